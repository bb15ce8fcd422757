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
    RedisConfig config = TestConfig.forRedis(TestRedis.shared().url(), Map.of()).redis();
    arrange = Redis.createClient(vertx, TestRedis.shared().url());
    Promise<RedisLink> made = Promise.promise();
    vertx.runOnContext(x -> {
      RedisLink l = new RedisLink(vertx, new RedisEndpoints(config).reads("link-test"), Duration.ofSeconds(1),
          "test", true);
      l.start().onComplete(ar -> made.complete(l));
    });
    link = Main.block(made.future());
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
