import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Loads N reader profiles into Redis for the Opentime benchmark: {@code HSET profile:{u<i>} first_name .. loyalty_tier ..
 * recent_categories .. purchased ..}, and a catalog of 10 categories x 20 products for the recommendations scenario.
 * for i = 0..N-1, pipelined on one connection in batches (a bounded number of batches in flight).
 *
 * <p>{@code java -cp target/opentime-gateway.jar bench/LoadProfiles.java redis://127.0.0.1:PORT N}
 *
 * <p>u0 is always {@code Ada}/{@code gold}, the answer the benchmark's hot scenario (and the ceiling server) expects.
 */
public final class LoadProfiles {

  static final int BATCH = 1000;
  static final int IN_FLIGHT = 8;
  static final String[] NAMES = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"};
  static final String[] TIERS = {"gold", "silver", "bronze", "member"};

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: java -cp opentime-gateway.jar bench/LoadProfiles.java redis://127.0.0.1:PORT N");
      System.exit(2);
    }
    String url = args[0];
    int n = Integer.parseInt(args[1]);
    long t0 = System.nanoTime();
    Vertx vertx = Vertx.vertx();
    int code = 0;
    try {
      RedisOptions options = new RedisOptions()
          .setConnectionString(url)
          .setMaxWaitingHandlers(BATCH * IN_FLIGHT * 2);
      Redis client = Redis.createClient(vertx, options);
      RedisConnection conn = client.connect().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      Promise<Void> done = Promise.promise();
      vertx.runOnContext(v -> new Loader(conn, n, done).start());
      done.future().toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
      Response size = conn.send(Request.cmd(Command.DBSIZE)).toCompletionStage().toCompletableFuture()
          .get(10, TimeUnit.SECONDS);
      System.err.printf("loaded %d profiles in %d ms (DBSIZE %s)%n", n,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), size);
      conn.close();
      client.close();
    } catch (Exception e) {
      System.err.println("loading profiles failed: " + e);
      code = 1;
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    System.exit(code);
  }

  /** Keeps IN_FLIGHT batches pipelined on the one connection until all N profiles are written. */
  static final class Loader {
    private final RedisConnection conn;
    private final int n;
    private final Promise<Void> done;
    private final AtomicInteger finished = new AtomicInteger();
    private int next;
    private boolean failed;

    Loader(RedisConnection conn, int n, Promise<Void> done) {
      this.conn = conn;
      this.n = n;
      this.done = done;
    }

    void start() {
      if (n <= 0) {
        done.complete();
        return;
      }
      for (int k = 0; k < IN_FLIGHT; k++) {
        sendNext();
      }
    }

    private void sendNext() {
      if (failed || next >= n) {
        return;
      }
      int from = next;
      int to = Math.min(n, from + BATCH);
      next = to;
      List<Request> batch = new ArrayList<>(to - from);
      for (int i = from; i < to; i++) {
        batch.add(Request.cmd(Command.HSET).arg("profile:{u" + i + "}")
            .arg("first_name").arg(NAMES[i % NAMES.length])
            .arg("loyalty_tier").arg(TIERS[i % TIERS.length])
            .arg("recent_categories").arg("cat" + (i % 10) + ",cat" + ((i + 3) % 10))
            .arg("purchased").arg("p" + (i % 10) + "-0"));
      }
      if (from == 0) {
        // The catalog for the recommendations scenario: 10 categories of 20 products, and best sellers.
        for (int c = 0; c < 10; c++) {
          for (int p = 0; p < 20; p++) {
            String id = "p" + c + "-" + p;
            batch.add(Request.cmd(Command.HSET).arg("product:" + id).arg("name").arg("Product " + id)
                .arg("price").arg((10 + p) + ".00").arg("image").arg("https://img.example/" + id + ".jpg")
                .arg("url").arg("https://shop.example/p/" + id));
            batch.add(Request.cmd(Command.ZADD).arg("catalog:category:cat" + c).arg(100 - p).arg(id));
          }
          batch.add(Request.cmd(Command.ZADD).arg("catalog:bestsellers").arg(10 - c).arg("p" + c + "-1"));
        }
      }
      Future<List<Response>> sent = conn.batch(batch);
      sent.onComplete(ar -> {
        if (ar.failed()) {
          if (!failed) {
            failed = true;
            done.tryFail(ar.cause());
          }
          return;
        }
        if (finished.addAndGet(to - from) >= n) {
          done.tryComplete();
        } else {
          sendNext();
        }
      });
    }
  }
}
