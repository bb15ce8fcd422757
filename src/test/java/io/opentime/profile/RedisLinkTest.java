package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.Main;
import io.opentime.config.RedisConfig;
import io.opentime.support.TestConfig;
import io.opentime.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The read link's batching against a real Redis: one write per loop turn, each caller its own reply. */
@ExtendWith(VertxExtension.class)
class RedisLinkTest {

  Vertx vertx;
  Redis arrange;
  RedisLink link;

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
    arrange = Redis.createClient(vertx, TestRedis.shared().url());
    link = readLink(Duration.ZERO);
  }

  /** A link like the gateway's read links (batching), with this batch window, on a Vert.x context of its own. */
  private RedisLink readLink(Duration window) {
    RedisConfig config = TestConfig.forRedis(TestRedis.shared().url(), Map.of()).redis();
    Promise<RedisLink> made = Promise.promise();
    vertx.runOnContext(x -> {
      RedisLink l = new RedisLink(vertx, new RedisEndpoints(config).reads("link-test"), Duration.ofSeconds(1),
          "test", true, window);
      l.start().onComplete(ar -> made.complete(l));
    });
    return Main.block(made.future());
  }

  @AfterEach
  void tearDown() {
    Promise<Void> closed = Promise.promise();
    link.context().runOnContext(v -> link.close().onComplete(closed));
    Main.block(closed.future());
    Main.block(arrange.close());
  }

  /** Sends all requests on the link's loop within one turn, and collects every outcome (reply or error). */
  private List<Object> sendTogether(List<Request> requests) {
    Promise<List<Object>> all = Promise.promise();
    link.context().runOnContext(v -> {
      List<Future<Object>> outcomes = new ArrayList<>();
      for (Request r : requests) {
        outcomes.add(link.send(r).<Object>map(resp -> resp == null ? "(nil)" : resp.toString())
            .otherwise(err -> "failed: " + err.getMessage()));
      }
      Future.all(outcomes).map(f -> f.<Object>list()).onComplete(all);
    });
    return Main.block(all.future());
  }

  @Test
  @DisplayName("a batch with one command Redis refuses: the others get their replies, that one its error")
  void oneErrorDoesNotFailTheBatch() {
    Main.block(arrange.send(Request.cmd(Command.SET).arg("link-test:a").arg("A")));
    Main.block(arrange.send(Request.cmd(Command.SET).arg("link-test:c").arg("C")));
    Main.block(arrange.send(Request.cmd(Command.SET).arg("link-test:not-a-hash").arg("x")));
    List<Object> outcomes = sendTogether(List.of(
        Request.cmd(Command.GET).arg("link-test:a"),
        Request.cmd(Command.HGET).arg("link-test:not-a-hash").arg("f"),
        Request.cmd(Command.GET).arg("link-test:c"),
        Request.cmd(Command.GET).arg("link-test:missing")));
    assertThat(outcomes.get(0)).isEqualTo("A");
    assertThat((String) outcomes.get(1)).startsWith("failed: WRONGTYPE");
    assertThat(outcomes.get(2)).isEqualTo("C");
    assertThat(outcomes.get(3)).isEqualTo("(nil)");
  }

  @Test
  @DisplayName("a thousand reads in one turn (several batches): each caller gets its own key's value, in order")
  void manyReadsNeverCross() {
    List<Request> writes = new ArrayList<>();
    List<Request> reads = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      writes.add(Request.cmd(Command.SET).arg("link-test:k" + i).arg("v" + i));
      reads.add(Request.cmd(Command.GET).arg("link-test:k" + i));
    }
    Main.block(arrange.batch(writes));
    List<Object> outcomes = sendTogether(reads);
    for (int i = 0; i < 1000; i++) {
      assertThat(outcomes.get(i)).as("read %d", i).isEqualTo("v" + i);
    }
  }

  /** Redis's count of socket reads it processed (INFO stats): one per batch a client writes. */
  private long redisReads() {
    String info = Main.block(arrange.send(Request.cmd(Command.INFO).arg("stats"))).toString();
    return info.lines().filter(l -> l.startsWith("total_reads_processed:"))
        .mapToLong(l -> Long.parseLong(l.substring(l.indexOf(':') + 1).trim())).findFirst().orElseThrow();
  }

  @Test
  @DisplayName("with a batch window, reads sent in separate loop turns inside it go to Redis as one batch, each "
      + "answered with its own value, none before the window")
  void batchWindowGathersReadsAcrossTurns() {
    int reads = 20;
    List<Request> writes = new ArrayList<>();
    for (int i = 0; i < reads; i++) {
      writes.add(Request.cmd(Command.SET).arg("link-window:k" + i).arg("v" + i));
    }
    Main.block(arrange.batch(writes));
    Duration window = Duration.ofMillis(300);
    RedisLink w = readLink(window);
    try {
      long before = redisReads();
      Promise<List<Object>> all = Promise.promise();
      long[] firstSent = new long[1];
      long[] firstAnswered = new long[1];
      w.context().runOnContext(v -> {
        List<Future<Object>> outcomes = new ArrayList<>();
        firstSent[0] = System.nanoTime();
        sendInTurns(w, 0, reads, outcomes, firstAnswered, all);
      });
      List<Object> outcomes = Main.block(all.future());
      long after = redisReads();
      for (int i = 0; i < reads; i++) {
        assertThat(outcomes.get(i)).as("read %d", i).isEqualTo("v" + i);
      }
      assertThat(firstAnswered[0] - firstSent[0]).as("the first read waited out the window")
          .isGreaterThanOrEqualTo(window.toNanos());
      // One read by Redis for the batch, one for the second INFO; without the window it was one per turn.
      assertThat(after - before).as("socket reads Redis processed for %d reads", reads).isLessThanOrEqualTo(3);
    } finally {
      Promise<Void> closed = Promise.promise();
      w.context().runOnContext(v -> w.close().onComplete(closed));
      Main.block(closed.future());
    }
  }

  /** Sends read i now and read i + 1 in a later turn of the loop, until {@code reads}; completes {@code all}. */
  private void sendInTurns(RedisLink w, int i, int reads, List<Future<Object>> outcomes, long[] firstAnswered,
                           Promise<List<Object>> all) {
    Future<Object> outcome = w.send(Request.cmd(Command.GET).arg("link-window:k" + i))
        .<Object>map(resp -> resp == null ? "(nil)" : resp.toString())
        .otherwise(err -> "failed: " + err.getMessage());
    if (i == 0) {
      outcome.onComplete(ar -> firstAnswered[0] = System.nanoTime());
    }
    outcomes.add(outcome);
    if (i + 1 < reads) {
      vertx.setTimer(1, id -> sendInTurns(w, i + 1, reads, outcomes, firstAnswered, all));
    } else {
      Future.all(outcomes).map(f -> f.<Object>list()).onComplete(all);
    }
  }

  @Test
  @DisplayName("without a window, reads sent in separate loop turns are written one turn at a time")
  void noWindowWritesEachTurn() {
    int reads = 20;
    long before = redisReads();
    Promise<List<Object>> all = Promise.promise();
    link.context().runOnContext(v -> sendInTurns(link, 0, reads, new ArrayList<>(), new long[1], all));
    List<Object> outcomes = Main.block(all.future());
    long after = redisReads();
    assertThat(outcomes).hasSize(reads);
    // The control for the test above: its count is the window's doing, not the way the reads are sent. About one
    // read per turn; fewer when two turns' writes reach Redis before it reads (TCP joins them), so not exactly.
    assertThat(after - before).as("socket reads Redis processed for %d reads", reads).isGreaterThan(reads / 2);
  }

  @Test
  @DisplayName("reads queued while the link is closed fail at once as not connected")
  void closedLinkFailsFast() {
    Promise<Void> closed = Promise.promise();
    link.context().runOnContext(v -> link.close().onComplete(closed));
    Main.block(closed.future());
    List<Object> outcomes = sendTogether(List.of(Request.cmd(Command.GET).arg("link-test:a")));
    assertThat((String) outcomes.get(0)).startsWith("failed: not connected");
  }
}
