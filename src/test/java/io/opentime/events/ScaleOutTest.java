package io.opentime.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.config.GatewayConfig;
import io.opentime.config.KafkaConfig;
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
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Several gateways, each with its own updater, in one consumer group on one Redis and one Kafka broker (real ones):
 * partitions spread over the updaters and move when one leaves or joins, without losing an event or letting an older
 * one win; every gateway drops its cached copy on an update; a gateway that missed an invalidation serves the new
 * data within refresh-after and resubscribes by itself.
 */
@ExtendWith(VertxExtension.class)
class ScaleOutTest {

  private static final int PARTITIONS = 4;

  Vertx vertx;
  final List<RunningGateway> gateways = new ArrayList<>();
  KafkaProducer<String, String> producer;
  Admin admin;
  final Instant t0 = Instant.now().minus(Duration.ofHours(1));
  KafkaConfig.Topics topics;
  String run;

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
    producer = EventsSetup.producer(TestKafka.bootstrapServers());
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    admin = Admin.create(p);
    GatewayConfig first = EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of());
    run = first.events().updater().groupId().substring("updater-".length());
    KafkaConfig.Topics t = first.events().kafka().topics();
    topics = new KafkaConfig.Topics(TestKafka.topic(run + "-scale-events", PARTITIONS), t.opens(), t.clicks(),
        t.deadLetter());
  }

  @AfterEach
  void tearDown() {
    gateways.forEach(RunningGateway::close);
    producer.close(Duration.ofSeconds(5));
    admin.close(Duration.ofSeconds(5));
  }

  /** One more gateway of the deployment: its own port, one updater, the shared group, topics and channel. */
  private RunningGateway gateway() {
    RunningGateway gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(),
        TestKafka.bootstrapServers(), Map.of("OPENTIME_UPDATER_INSTANCES", "1"), topics, run));
    gateways.add(gw);
    return gw;
  }

  private String rename(String id, String uid, Instant time, String name) {
    return rename(id, uid, time, name, new JsonObject());
  }

  private String rename(String id, String uid, Instant time, String name, JsonObject more) {
    return new JsonObject().put("id", id).put("uid", uid).put("type", "attribute").put("time", time.toString())
        .put("attributes", more.copy().put("first_name", name)).encode();
  }

  private void produce(String uid, String event) {
    EventsSetup.produce(producer, topics.profileEvents(), List.<String[]>of(new String[] {uid, event}));
  }

  /** Partitions held by each member of the updaters' group, as the broker sees it. */
  private List<Integer> assignment() throws Exception {
    String group = gateways.get(0).config.events().updater().groupId();
    ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    List<Integer> sizes = new ArrayList<>();
    for (MemberDescription m : d.members()) {
      sizes.add(m.assignment().topicPartitions().size());
    }
    return sizes;
  }

  private String firstName(RunningGateway gw, String uid) {
    Response r = gw.send(Request.cmd(Command.HGET).arg(gw.config.redis().profileKey(uid)).arg("first_name"));
    return r == null ? null : r.toString();
  }

  @Test
  @DisplayName("partitions spread over the updaters and move on each rebalance; no event lost, none applied backwards")
  void rebalancesLoseNothingAndNeverGoBackwards() throws Exception {
    RunningGateway a = gateway();
    RunningGateway b = gateway();
    Await.until("both updaters hold partitions", Duration.ofSeconds(30), () -> {
      try {
        List<Integer> sizes = assignment();
        return sizes.size() == 2 && sizes.stream().allMatch(n -> n > 0)
            && sizes.stream().mapToInt(Integer::intValue).sum() == PARTITIONS;
      } catch (Exception e) {
        return false;
      }
    });

    // 100 readers, 30 renames each, in time order per reader, produced in rounds while the group changes:
    // b leaves after round 10, c joins after round 20.
    int readers = 100;
    int rounds = 30;
    AtomicReference<RunningGateway> c = new AtomicReference<>();
    for (int round = 0; round < rounds; round++) {
      List<String[]> batch = new ArrayList<>();
      for (int r = 0; r < readers; r++) {
        String uid = "so-" + r;
        // each round also sets a field of its own: a lost event leaves its field missing
        batch.add(new String[] {uid, rename("so-" + r + "-" + round, uid, t0.plusMillis(round), "v" + round,
            new JsonObject().put("round_" + round, "1"))});
      }
      EventsSetup.produce(producer, topics.profileEvents(), batch);
      if (round == 10) {
        gateways.remove(b);
        b.close(); // a graceful stop: commits what it applied, then leaves the group
      } else if (round == 20) {
        c.set(gateway());
      }
      Thread.sleep(100);
    }
    Await.until("the group is a and c again, all partitions held", Duration.ofSeconds(30), () -> {
      try {
        List<Integer> sizes = assignment();
        return sizes.size() == 2 && sizes.stream().allMatch(n -> n > 0);
      } catch (Exception e) {
        return false;
      }
    });
    Await.until("every reader at the last rename", Duration.ofSeconds(60), () -> {
      for (int r = 0; r < readers; r++) {
        if (!("v" + (rounds - 1)).equals(firstName(a, "so-" + r))) {
          return false;
        }
      }
      return true;
    });
    // An older event delivered again after a rebalance must not win: replay round 5 for every reader.
    List<String[]> replay = new ArrayList<>();
    for (int r = 0; r < readers; r++) {
      String uid = "so-" + r;
      replay.add(new String[] {uid, rename("so-" + r + "-5", uid, t0.plusMillis(5), "v5")});
    }
    EventsSetup.produce(producer, topics.profileEvents(), replay);
    Await.until("the group committed every partition to its end", Duration.ofSeconds(30), this::allCommitted);
    Set<String> finals = new java.util.HashSet<>();
    for (int r = 0; r < readers; r++) {
      finals.add(firstName(a, "so-" + r));
    }
    assertThat(finals).containsExactly("v" + (rounds - 1));
    for (int r = 0; r < readers; r++) {
      Response hash = a.send(Request.cmd(Command.HGETALL).arg(a.config.redis().profileKey("so-" + r)));
      for (int round = 0; round < rounds; round++) {
        assertThat(hash.containsKey("round_" + round)).as("so-%d got round %d", r, round).isTrue();
      }
    }
  }

  /** True when the group's committed offset is the end of every partition: everything produced was applied. */
  private boolean allCommitted() {
    try {
      String group = gateways.get(0).config.events().updater().groupId();
      Map<TopicPartition, OffsetAndMetadata> committed =
          admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
      for (int p = 0; p < PARTITIONS; p++) {
        latest.put(new TopicPartition(topics.profileEvents(), p), OffsetSpec.latest());
      }
      for (var e : admin.listOffsets(latest).all().get().entrySet()) {
        OffsetAndMetadata c = committed.get(e.getKey());
        if (c == null || c.offset() != e.getValue().offset()) {
          return false;
        }
      }
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  @DisplayName("every gateway drops its cached copy on an update; one that missed it recovers within refresh-after")
  void invalidationsReachEveryGatewayAndAMissedOneHeals() throws Exception {
    RunningGateway a = gateway();
    RunningGateway b = gateway();
    a.putProfile("so-inv", Map.of("first_name", "Ada"));
    assertThat(a.greeting("so-inv").body()).contains("Ada");
    assertThat(b.greeting("so-inv").body()).contains("Ada");
    produce("so-inv", rename("i1", "so-inv", t0.plusSeconds(1), "Bea"));
    Await.until("gateway a drops its copy", Duration.ofSeconds(30), () -> a.greeting("so-inv").body().contains("Bea"));
    Await.until("gateway b drops its copy", Duration.ofSeconds(10), () -> b.greeting("so-inv").body().contains("Bea"));

    // Redis drops every subscriber connection (as a failover or a network cut would); an update written meanwhile
    // without a publish stands for every invalidation missed while the gateways were not subscribed.
    Response killed = a.send(Request.cmd(Command.CLIENT).arg("KILL").arg("TYPE").arg("pubsub"));
    assertThat(killed.toLong()).isGreaterThanOrEqualTo(2L);
    a.putProfile("so-inv", Map.of("first_name", "Cy"));
    assertThat(b.greeting("so-inv").body()).as("still the cached copy").contains("Bea");
    b.ticker.advance(b.config.cache().refreshAfter().plusMillis(1));
    b.greeting("so-inv"); // answered from the stale copy; starts the background re-read
    Await.until("gateway b serves the new data", Duration.ofSeconds(5), () -> b.greeting("so-inv").body().contains("Cy"));
    Await.until("both resubscribed by themselves", Duration.ofSeconds(10),
        () -> a.gateway.invalidations().subscribed() && b.gateway.invalidations().subscribed());
    produce("so-inv", rename("i2", "so-inv", t0.plusSeconds(2), "Dee"));
    Await.until("invalidations reach both again", Duration.ofSeconds(30),
        () -> a.greeting("so-inv").body().contains("Dee") && b.greeting("so-inv").body().contains("Dee"));
  }
}
