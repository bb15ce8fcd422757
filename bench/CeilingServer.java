import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The "framework ceiling" for the Opentime benchmark: the cheapest Vert.x 5 HTTP server that returns the same bytes
 * as the gateway (status line, headers and body) with none of its work. Same Vert.x options as the gateway (one event
 * loop per core, native transport), one server verticle per core, a raw request handler (no router, no token, no
 * cache, no Redis), pre-built bodies and pre-encoded header values. Whatever the gateway does costs requests/s
 * relative to this.
 *
 * <p>Two answers, chosen by path alone: {@code /v1/open/...} gets the gateway's tracking pixel (the GIF and its
 * headers); anything else gets the greeting block's cache-hit answer to {@code bench@opentime.example}, with the
 * headers the gateway sends (AMP CORS, content type, no-store, nosniff, source and data age). {@code bench/run.sh}
 * checks that both match the gateway's answers byte for byte, apart from the age and source values.
 *
 * <p>Launch (Java 17 single-file source, the gateway jar supplies Vert.x):
 * {@code java -cp target/opentime-gateway.jar bench/CeilingServer.java PORT}. Listens on 127.0.0.1 only.
 *
 * <p><b>Floor mode</b> ({@code ... PORT REDIS_URL hmget|get FIRST LAST}): the same answers, each after one Redis read
 * of a reader drawn at random from u{@code FIRST}..u{@code LAST} (the request's token is not read), on one connection
 * per event loop whose reads are written together at the end of the loop's turn. {@code hmget} reads the gateway's
 * hash ({@code HMGET profile:{uN}} and the shipped configuration's eleven schema fields); {@code get} first stores
 * one 120-byte string per reader ({@code floor:{uN}}) and reads that. What a server keeps of the ceiling when it
 * does nothing but the cold path's Redis round trip: the cold target's bound on this machine with either storage
 * format (bench/cold-ab.sh FLOOR=1).
 */
public final class CeilingServer {

  static final Buffer BODY = Buffer.buffer("{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}");
  static final Buffer GIF = Buffer.buffer(Base64.getDecoder().decode(
      "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="));
  static final String OPEN_PREFIX = "/v1/open/";

  // The gateway's header names and values, in the gateway's order, encoded once.
  static final CharSequence ALLOW_SENDER = HttpHeaders.createOptimized("AMP-Email-Allow-Sender");
  static final CharSequence SENDER = HttpHeaders.createOptimized("bench@opentime.example");
  static final CharSequence JSON = HttpHeaders.createOptimized("application/json");
  static final CharSequence NO_STORE = HttpHeaders.createOptimized("private, no-store");
  static final CharSequence NOSNIFF_HEADER = HttpHeaders.createOptimized("X-Content-Type-Options");
  static final CharSequence NOSNIFF = HttpHeaders.createOptimized("nosniff");
  static final CharSequence SOURCE_HEADER = HttpHeaders.createOptimized("X-Opentime-Source");
  static final CharSequence CACHE = HttpHeaders.createOptimized("cache");
  static final CharSequence AGE_HEADER = HttpHeaders.createOptimized("X-Opentime-Data-Age");
  static final CharSequence AGE = HttpHeaders.createOptimized("0");
  static final CharSequence IMAGE_GIF = HttpHeaders.createOptimized("image/gif");
  static final CharSequence GIF_LENGTH = HttpHeaders.createOptimized(Integer.toString(GIF.length()));
  static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache, no-store, must-revalidate, max-age=0");
  static final CharSequence PRAGMA = HttpHeaders.createOptimized("Pragma");
  static final CharSequence NO_CACHE_PRAGMA = HttpHeaders.createOptimized("no-cache");
  static final CharSequence EXPIRES_NOW = HttpHeaders.createOptimized("0");

  /** The shipped conf/application.yaml's profile schema, in the gateway's order (floor mode's HMGET). */
  static final String[] SCHEMA = {"first_name", "loyalty_tier", "recent_categories", "purchased", "last_purchase_at",
      "orders_365d", "spend_365d", "engagement_score", "last_view_at", "last_view_category", "cart_updated_at"};

  /** Floor mode's Redis and readers; null in ceiling mode. */
  record Floor(String url, boolean hash, int first, int last) {
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1 && !(args.length == 5 && (args[2].equals("hmget") || args[2].equals("get")))) {
      System.err.println("usage: java -cp opentime-gateway.jar bench/CeilingServer.java PORT [REDIS_URL hmget|get FIRST LAST]");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    Floor floor = args.length == 1 ? null
        : new Floor(args[1], args[2].equals("hmget"), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
    int cores = Runtime.getRuntime().availableProcessors();
    Vertx vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(cores).setPreferNativeTransport(true))
        .build();
    try {
      if (floor != null && !floor.hash()) {
        storeStrings(vertx, floor);
      }
      // Waited for here, on the main thread: never exit from an event loop.
      vertx.deployVerticle(() -> new Ceiling(port, floor), new DeploymentOptions().setInstances(cores))
          .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      System.err.println("ceiling failed to start: " + (e.getCause() == null ? e : e.getCause()));
      close(vertx);
      System.exit(1);
    }
    System.err.println((floor == null ? "ceiling" : "floor (" + args[2] + ")") + " listening on 127.0.0.1:" + port
        + " (" + cores + " instances, native transport: " + vertx.isNativeTransportEnabled() + ")");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> close(vertx), "ceiling-shutdown"));
  }

  private static void close(Vertx vertx) {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // exiting anyway
    }
  }

  /** Floor mode {@code get}: one string per reader, written in batches before the server listens. */
  private static void storeStrings(Vertx vertx, Floor floor) throws Exception {
    Redis client = Redis.createClient(vertx, new RedisOptions().setConnectionString(floor.url()));
    RedisConnection conn = client.connect().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    String value = "x".repeat(120);
    for (int i = floor.first(); i <= floor.last(); i += 1000) {
      List<Request> batch = new ArrayList<>();
      for (int j = i; j <= Math.min(floor.last(), i + 999); j++) {
        batch.add(Request.cmd(Command.SET).arg("floor:{u" + j + "}").arg(value));
      }
      conn.batch(batch).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    conn.close();
    client.close();
  }

  static void answer(HttpServerRequest req) {
    HttpServerResponse response = req.response();
    if (req.path().startsWith(OPEN_PREFIX)) {
      response.putHeader(HttpHeaders.CONTENT_TYPE, IMAGE_GIF)
          .putHeader(HttpHeaders.CONTENT_LENGTH, GIF_LENGTH)
          .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
          .putHeader(PRAGMA, NO_CACHE_PRAGMA)
          .putHeader(HttpHeaders.EXPIRES, EXPIRES_NOW)
          .end(GIF);
    } else {
      response.putHeader(ALLOW_SENDER, SENDER)
          .putHeader(HttpHeaders.CONTENT_TYPE, JSON)
          .putHeader(HttpHeaders.CACHE_CONTROL, NO_STORE)
          .putHeader(NOSNIFF_HEADER, NOSNIFF)
          .putHeader(SOURCE_HEADER, CACHE)
          .putHeader(AGE_HEADER, AGE)
          .end(BODY);
    }
  }

  static final class Ceiling extends VerticleBase {
    private final int port;
    private final Floor floor;

    Ceiling(int port, Floor floor) {
      this.port = port;
      this.floor = floor;
    }

    @Override
    public Future<?> start() {
      HttpServerOptions options = new HttpServerOptions()
          .setHost("127.0.0.1")
          .setPort(port)
          .setTcpNoDelay(true)
          .setCompressionSupported(false);
      if (floor == null) {
        return vertx.createHttpServer(options).requestHandler(CeilingServer::answer).listen();
      }
      return Redis.createClient(vertx, new RedisOptions().setConnectionString(floor.url())).connect()
          .compose(conn -> vertx.createHttpServer(options).requestHandler(new FloorReads(floor, conn)::read).listen());
    }
  }

  /**
   * Floor mode, one per event loop: each request's read is queued, and the loop's reads go to Redis together once
   * its turn ends; each request is answered (the ceiling's bytes) when the batch's replies are in.
   */
  static final class FloorReads {
    private final Floor floor;
    private final RedisConnection redis;
    private List<Request> reads = new ArrayList<>();
    private List<HttpServerRequest> waiting = new ArrayList<>();

    FloorReads(Floor floor, RedisConnection redis) {
      this.floor = floor;
      this.redis = redis;
    }

    void read(HttpServerRequest req) {
      int reader = ThreadLocalRandom.current().nextInt(floor.first(), floor.last() + 1);
      Request read;
      if (floor.hash()) {
        Object[] args = new Object[SCHEMA.length + 1];
        args[0] = "profile:{u" + reader + "}";
        System.arraycopy(SCHEMA, 0, args, 1, SCHEMA.length);
        read = Request.cmd(Command.HMGET, args);
      } else {
        read = Request.cmd(Command.GET, "floor:{u" + reader + "}");
      }
      if (reads.isEmpty()) {
        Vertx.currentContext().runOnContext(v -> flush());
      }
      reads.add(read);
      waiting.add(req);
    }

    private void flush() {
      List<HttpServerRequest> answering = waiting;
      redis.batch(reads).onComplete(ar -> {
        for (HttpServerRequest req : answering) {
          if (ar.succeeded()) {
            answer(req);
          } else {
            req.response().setStatusCode(503).end();
          }
        }
      });
      reads = new ArrayList<>();
      waiting = new ArrayList<>();
    }
  }
}
