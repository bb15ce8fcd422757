package io.opentime.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.config.GatewayConfig;
import io.opentime.config.KafkaConfig;
import io.opentime.config.UpdaterConfig;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.ops.EventMetrics;
import io.opentime.support.Await;
import io.opentime.support.EventsSetup;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestKafka;
import io.opentime.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The updater against a real Kafka broker and Redis: events produced to the profile-events topic change the next
 * open, exactly once in effect whatever the order and duplicates, poison events go to the dead-letter topic, a
 * Redis outage loses nothing, and every gateway drops its cached copy.
 */
@ExtendWith(VertxExtension.class)
class UpdaterTest {

  Vertx vertx;
  final List<RunningGateway> gateways = new ArrayList<>();
  KafkaProducer<String, String> producer;
  EmbeddedRedis ownRedis;
  final Instant t0 = Instant.now().minus(Duration.ofHours(1));

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
    producer = EventsSetup.producer(TestKafka.bootstrapServers());
  }

  @AfterEach
  void tearDown() {
    gateways.forEach(RunningGateway::close);
    producer.close(Duration.ofSeconds(5));
    if (ownRedis != null) {
      ownRedis.close();
    }
  }

  private RunningGateway start(GatewayConfig config) {
    RunningGateway gw = new RunningGateway(vertx, config);
    gateways.add(gw);
    return gw;
  }

  private String topic(RunningGateway gw) {
    return gw.config.events().kafka().topics().profileEvents();
  }

  private String event(String id, String uid, String type, Instant time, JsonObject data) {
    JsonObject e = new JsonObject().put("id", id).put("uid", uid).put("type", type).put("time", time.toString());
    data.forEach(en -> e.put(en.getKey(), en.getValue()));
    return e.encode();
  }

  private String attribute(String id, String uid, Instant time, String field, String value) {
    return event(id, uid, "attribute", time, new JsonObject().put("attributes", new JsonObject().put(field, value)));
  }

  private void produce(String topic, String uid, String... values) {
    List<String[]> kvs = new ArrayList<>();
    for (String v : values) {
      kvs.add(new String[] {uid, v});
    }
    EventsSetup.produce(producer, topic, kvs);
  }

  private Map<String, String> hash(RunningGateway gw, String uid) {
    Response r = gw.send(Request.cmd(Command.HGETALL).arg(gw.config.redis().profileKey(uid)));
    Map<String, String> out = new HashMap<>();
    for (String k : r.getKeys()) {
      out.put(k, r.get(k).toString());
    }
    return out;
  }

  private double applied(RunningGateway gw) {
    return gw.counter(EventMetrics.APPLIED, "result", "changed") + gw.counter(EventMetrics.APPLIED, "result", "unchanged")
        + gw.counter(EventMetrics.APPLIED, "result", "erased_before");
  }

  @Test
  void anEventChangesTheNextOpen() {
    RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    gw.putProfile("up-1", Map.of("first_name", "Ada"));
    assertThat(gw.greeting("up-1").body()).contains("Ada"); // cached now; the fake cache clock never advances
    produce(topic(gw), "up-1", attribute("e1", "up-1", t0, "first_name", "Bea"));
    Await.until("the open to show the update", Duration.ofSeconds(30), () -> gw.greeting("up-1").body().contains("Bea"));
    assertThat(gw.counter(EventMetrics.INVALIDATIONS)).isGreaterThanOrEqualTo(1);
  }

  @Test
  void replayedAndReorderedEventsHaveExactlyOneEffect() {
    RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    String uid = "up-2";
    List<String> events = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      events.add(attribute("a" + i, uid, t0.plusSeconds(i), "first_name", "name-" + i));
    }
    for (int i = 0; i < 5; i++) {
      events.add(event("o" + i, uid, "purchase", t0.plusSeconds(100 + i), new JsonObject().put("order", "order-" + i)
          .put("products", new io.vertx.core.json.JsonArray().add("p" + i)).put("amount", 10)));
    }
    events.add(event("c1", uid, "cart_add", t0.plusSeconds(200), new JsonObject().put("product", "p-cart")));
    events.add(event("c2", uid, "cart_remove", t0.plusSeconds(201), new JsonObject().put("product", "p-cart")));
    events.add(event("c3", uid, "cart_add", t0.plusSeconds(202), new JsonObject().put("product", "p-kept")));
    List<String> sent = new ArrayList<>(events);
    sent.addAll(events.subList(0, 15)); // duplicates, as a replay after a crash would send
    sent.addAll(events.subList(20, 27));
    Collections.shuffle(sent, new Random(42));
    produce(topic(gw), uid, sent.toArray(String[]::new));
    Await.until("every event applied", Duration.ofSeconds(30), () -> applied(gw) >= sent.size());

    Map<String, String> h = hash(gw, uid);
    assertThat(h).containsEntry("first_name", "name-19")
        .containsEntry("orders_365d", "5")
        .containsEntry("cart_items", "p-kept");
    assertThat(h.get("spend_365d")).startsWith("50");
    assertThat(applied(gw)).isEqualTo(sent.size());
    // Every duplicate found its effect already there (older events arriving late may be no-ops too).
    assertThat(gw.counter(EventMetrics.APPLIED, "result", "unchanged")).isGreaterThanOrEqualTo(sent.size() - events.size());
  }

  @Test
  void poisonEventsGoToTheDeadLetterTopicAndTheStreamGoesOn() throws Exception {
    RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    String uid = "up-3";
    produce(topic(gw), uid, "not json at all", "{\"id\":\"x1\",\"uid\":\"up-3\",\"type\":\"teleport\",\"time\":\"2026-01-01T00:00:00Z\"}",
        attribute("ok1", uid, t0, "first_name", "Cleo"));
    Await.until("the valid event applied", Duration.ofSeconds(30), () -> "Cleo".equals(hash(gw, uid).get("first_name")));
    List<ConsumerRecord<String, String>> dlq = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().deadLetter(), 2, Duration.ofSeconds(20));
    assertThat(dlq).hasSize(2);
    JsonObject first = new JsonObject(dlq.get(0).value());
    JsonObject second = new JsonObject(dlq.get(1).value());
    assertThat(first.getString("reason")).isEqualTo("not a JSON object");
    assertThat(first.getString("value")).isEqualTo("not json at all");
    assertThat(second.getString("reason")).contains("type");
    assertThat(second.getString("topic")).isEqualTo(topic(gw));
    assertThat(dlq.get(0).key()).isEqualTo(uid);
    // Offsets are committed past all three once applied or dead-lettered.
    Await.until("offsets committed", Duration.ofSeconds(20), () -> committedEqualsEnd(gw));
  }

  private boolean committedEqualsEnd(RunningGateway gw) {
    Map<String, Object> p = Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    try (Admin admin = Admin.create(p)) {
      Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(
          gw.config.events().updater().groupId()).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (int i = 0; i < 3; i++) {
        latest.put(new TopicPartition(topic(gw), i), OffsetSpec.latest());
      }
      var ends = admin.listOffsets(latest).all().get();
      for (var e : ends.entrySet()) {
        long end = e.getValue().offset();
        OffsetAndMetadata c = committed.get(e.getKey());
        if (end > 0 && (c == null || c.offset() != end)) {
          return false;
        }
      }
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void aRedisOutageDuringConsumptionLosesNothing() throws Exception {
    ownRedis = EmbeddedRedis.start(0);
    RunningGateway gw = start(EventsSetup.config(ownRedis.url(), TestKafka.bootstrapServers(), Map.of()));
    produce(topic(gw), "up-4-warm", attribute("w", "up-4-warm", t0, "first_name", "W"));
    Await.until("the updater running", Duration.ofSeconds(30), () -> applied(gw) >= 1);
    ownRedis.kill();
    int n = 200;
    List<String[]> kvs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      kvs.add(new String[] {"up-4-" + i, attribute("o" + i, "up-4-" + i, t0, "first_name", "N" + i)});
    }
    EventsSetup.produce(producer, topic(gw), kvs);
    Await.until("applies failing and being retried", Duration.ofSeconds(20),
        () -> gw.counter(EventMetrics.APPLY_RETRIES) >= 3);
    Await.until("the lag gauge showing the unapplied events", Duration.ofSeconds(15), () -> lag(gw) >= 1);
    assertThat(gw.registry.find(EventMetrics.PAUSED).gauge().value()).isPositive();
    ownRedis.restart();
    Await.until("all events applied after Redis is back", Duration.ofSeconds(60), () -> applied(gw) >= n + 1);
    for (int i = 0; i < n; i++) {
      assertThat(hash(gw, "up-4-" + i)).as("reader %d", i).containsEntry("first_name", "N" + i);
    }
    Await.until("offsets committed", Duration.ofSeconds(20), () -> committedEqualsEnd(gw));
    Await.until("no lag left", Duration.ofSeconds(15), () -> lag(gw) == 0);
  }

  private static double lag(RunningGateway gw) {
    return gw.registry.find(EventMetrics.LAG).gauge().value();
  }

  @Test
  void everyGatewayDropsItsCachedCopy() {
    GatewayConfig first = EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of());
    KafkaConfig.Topics topics = first.events().kafka().topics();
    String run = first.events().updater().groupId().substring("updater-".length());
    GatewayConfig second = EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of(),
        topics, run);
    UpdaterConfig u = second.events().updater();
    RunningGateway gw1 = start(first);
    RunningGateway gw2 = start(second.withEvents(second.events().withUpdater(new UpdaterConfig(false, 1, u.groupId(),
        u.maxInFlight(), u.applyDeadline(), u.retryMaxDelay(), u.invalidationChannel()))));
    gw1.putProfile("up-5", Map.of("first_name", "Ada"));
    assertThat(gw1.greeting("up-5").body()).contains("Ada");
    assertThat(gw2.greeting("up-5").body()).contains("Ada");
    produce(topic(gw1), "up-5", attribute("e1", "up-5", t0, "first_name", "Bea"));
    Await.until("gateway 1 sees it", Duration.ofSeconds(30), () -> gw1.greeting("up-5").body().contains("Bea"));
    Await.until("gateway 2 sees it", Duration.ofSeconds(10), () -> gw2.greeting("up-5").body().contains("Bea"));
  }

  @Test
  void aDroppedSubscriptionComesBackByItself() {
    RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    gw.putProfile("up-6", Map.of("first_name", "Ada"));
    assertThat(gw.greeting("up-6").body()).contains("Ada");
    Invalidations inv = gw.gateway.invalidations();
    vertx.runOnContext(v -> inv.dropConnectionForTest());
    Await.until("the subscription is down", Duration.ofSeconds(5), () -> !inv.subscribed());
    Await.until("resubscribed", Duration.ofSeconds(10), inv::subscribed);
    produce(topic(gw), "up-6", attribute("e1", "up-6", t0, "first_name", "Bea"));
    Await.until("the update invalidates again", Duration.ofSeconds(30), () -> gw.greeting("up-6").body().contains("Bea"));
  }

  @Test
  void anErasureLeavesATombstoneOlderEventsCannotCross() {
    RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    String uid = "up-7";
    produce(topic(gw), uid, attribute("a1", uid, t0, "first_name", "Ada"));
    Await.until("applied", Duration.ofSeconds(30), () -> "Ada".equals(hash(gw, uid).get("first_name")));
    assertThat(gw.greeting(uid).body()).contains("Ada");
    produce(topic(gw), uid, event("er", uid, "erasure", t0.plusSeconds(10), new JsonObject()));
    Await.until("erased", Duration.ofSeconds(30), () -> !hash(gw, uid).containsKey("first_name"));
    assertThat(gw.greeting(uid).body()).doesNotContain("Ada");
    double before = gw.counter(EventMetrics.APPLIED, "result", "erased_before");
    // A replay of the old event, and a late one from before the erasure: neither brings data back.
    produce(topic(gw), uid, attribute("a1", uid, t0, "first_name", "Ada"),
        attribute("a0", uid, t0.plusSeconds(5), "loyalty_tier", "gold"));
    Await.until("both ignored", Duration.ofSeconds(30),
        () -> gw.counter(EventMetrics.APPLIED, "result", "erased_before") >= before + 2);
    assertThat(hash(gw, uid)).doesNotContainKeys("first_name", "loyalty_tier");
    // A newer event applies next to the tombstone.
    produce(topic(gw), uid, attribute("a2", uid, t0.plusSeconds(20), "first_name", "Nova"));
    Await.until("newer applies", Duration.ofSeconds(30), () -> gw.greeting(uid).body().contains("Nova"));
  }

  /** Live threads of the Vert.x Kafka client's consumers (each consumer stream runs its client on one). */
  private static Set<Thread> consumerThreads() {
    Set<Thread> out = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith("vert.x-kafka-consumer-thread-")) {
        out.add(t);
      }
    }
    return out;
  }

  /**
   * A stop in the middle of a backlog: the consumer's close revokes its partitions while applies are still
   * completing, and the revocation must not touch the closing consumer. (The Vert.x client restarts a closed stream
   * on any call: a commit from the revocation ran on a second client thread beside the one closing, which failed
   * with ConcurrentModificationException in a loop and was left running after the stop.) Whether an apply completes
   * between the stop's commit and the revocation is up to timing, so the stop is made three times, on fresh
   * updaters: the old code left a thread behind in two stops of three.
   */
  @Test
  void aStopDuringABacklogLeavesNoConsumerThreadBehind() {
    for (int attempt = 1; attempt <= 3; attempt++) {
      Set<Thread> before = consumerThreads();
      RunningGateway gw = start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(),
          Map.of("OPENTIME_UPDATER_INSTANCES", "1")));
      int events = 20_000;
      List<String[]> backlog = new ArrayList<>(events);
      for (int i = 0; i < events; i++) {
        String uid = "up-stop-" + (i % 500);
        backlog.add(new String[] {uid, attribute("s" + attempt + "-" + i, uid, t0.plusMillis(i), "first_name", "n" + i)});
      }
      EventsSetup.produce(producer, topic(gw), backlog);
      Await.until("the updater is applying the backlog", Duration.ofSeconds(60), () -> applied(gw) >= 1_000);
      assertThat(applied(gw)).as("still applying when stopped").isLessThan(events);
      gateways.remove(gw);
      gw.close();
      Await.until("the updater's consumer thread ended (stop " + attempt + ")", Duration.ofSeconds(10), () -> {
        Set<Thread> left = consumerThreads();
        left.removeAll(before);
        return left.isEmpty();
      });
    }
  }
}
