package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.demo.EmbeddedRedis;
import io.opentime.ops.GatewayMetrics;
import io.opentime.support.Await;
import io.opentime.support.EventsSetup;
import io.opentime.support.LocalRedisCluster;
import io.opentime.support.LocalSentinel;
import io.opentime.support.Resp;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestKafka;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The gateway and its updater on a real local Redis Cluster (3 masters, 1 replica each) and a real Sentinel setup
 * (1 master, 2 replicas, 3 Sentinels), all {@code redis-server} processes: reads and the update script across slots,
 * replica reads, slot migrations (ASK, MOVED) and a master killed under load. Every answer during a failover is a
 * 200 with the reader's own (last good) data or the defaults, and the gateway is personalized again afterwards
 * without a restart.
 */
@ExtendWith(VertxExtension.class)
class RedisTopologyTest {

  private static final Duration FAILOVER = Duration.ofSeconds(30);
  private static final String DEFAULT_NAME = "there"; // the greeting block's default first_name

  Vertx vertx;
  LocalRedisCluster cluster;
  LocalSentinel sentinel;
  final List<RunningGateway> gateways = new ArrayList<>();
  KafkaProducer<String, String> producer;
  final Instant t0 = Instant.now().minus(Duration.ofHours(1));
  final AtomicInteger eventIds = new AtomicInteger();

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
    producer = EventsSetup.producer(TestKafka.bootstrapServers());
  }

  @AfterEach
  void tearDown() {
    gateways.forEach(RunningGateway::close);
    producer.close(Duration.ofSeconds(5));
    if (cluster != null) {
      cluster.close();
    }
    if (sentinel != null) {
      sentinel.close();
    }
  }

  private RunningGateway clusterGateway(String readFrom) {
    return clusterGateway(Map.of("OPENTIME_REDIS_READ_FROM", readFrom));
  }

  private RunningGateway clusterGateway(Map<String, String> env) {
    Map<String, String> all = new java.util.HashMap<>(env);
    all.put("OPENTIME_REDIS_MODE", "cluster");
    RunningGateway gw = new RunningGateway(vertx, EventsSetup.config(cluster.seedList(), TestKafka.bootstrapServers(),
        all));
    gateways.add(gw);
    return gw;
  }

  private RunningGateway sentinelGateway() {
    RunningGateway gw = new RunningGateway(vertx, EventsSetup.config(sentinel.sentinelList(),
        TestKafka.bootstrapServers(), Map.of("OPENTIME_REDIS_MODE", "sentinel",
            "OPENTIME_REDIS_MASTER_NAME", sentinel.masterName())));
    gateways.add(gw);
    return gw;
  }

  /** Sets a reader's first name through the profile-events topic, as upstream pipelines do. */
  private void rename(RunningGateway gw, String uid, String name) {
    JsonObject event = new JsonObject().put("id", "e" + eventIds.incrementAndGet()).put("uid", uid)
        .put("type", "attribute").put("time", t0.plusSeconds(eventIds.get()).toString())
        .put("attributes", new JsonObject().put("first_name", name));
    EventsSetup.produce(producer, gw.config.events().kafka().topics().profileEvents(),
        List.<String[]>of(new String[] {uid, event.encode()}));
  }

  private static String name(HttpResponse<String> greeting) {
    return new JsonObject(greeting.body()).getJsonArray("items").getJsonObject(0).getString("first_name");
  }

  private static String source(HttpResponse<String> greeting) {
    return greeting.headers().firstValue("X-Opentime-Source").orElse("?");
  }

  /** Readers whose profile keys spread over every master: at least {@code perMaster} on each. */
  private List<String> readersOnEveryMaster(RunningGateway gw, String prefix, int perMaster) {
    Map<Integer, List<String>> byMaster = new java.util.HashMap<>();
    for (int i = 0; byMaster.size() < 3 || byMaster.values().stream().anyMatch(l -> l.size() < perMaster); i++) {
      String uid = prefix + i;
      int port = cluster.masterFor(gw.config.redis().profileKey(uid)).port();
      List<String> l = byMaster.computeIfAbsent(port, p -> new ArrayList<>());
      if (l.size() < perMaster) {
        l.add(uid);
      }
    }
    return byMaster.values().stream().flatMap(List::stream).toList();
  }

  @Test
  @DisplayName("cluster: reads and the update script work on every master; replica reads hit replicas")
  void clusterReadsAndWritesAcrossSlots() throws Exception {
    cluster = LocalRedisCluster.start(3, 1);
    RunningGateway gw = clusterGateway("master");
    List<String> readers = readersOnEveryMaster(gw, "cl-", 4);
    for (String uid : readers) {
      gw.putProfile(uid, Map.of("first_name", "Old-" + uid));
      assertThat(name(gw.greeting(uid))).isEqualTo("Old-" + uid);
    }
    for (String uid : readers) {
      rename(gw, uid, "New-" + uid);
    }
    Await.until("every reader renamed through the updater", Duration.ofSeconds(30),
        () -> readers.stream().allMatch(uid -> name(gw.greeting(uid)).equals("New-" + uid)));
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "error")).isZero();

    // A second gateway reading from replicas: same answers, and the replicas served them.
    long replicaReadsBefore = replicaHmgets();
    RunningGateway replicaReader = clusterGateway("replicas");
    Await.until("replicas caught up", Duration.ofSeconds(10),
        () -> readers.stream().allMatch(uid -> name(replicaReader.greeting(uid)).equals("New-" + uid)));
    assertThat(replicaHmgets() - replicaReadsBefore).isGreaterThanOrEqualTo(readers.size());
  }

  private long replicaHmgets() throws Exception {
    long calls = 0;
    for (EmbeddedRedis node : cluster.nodes()) {
      String role = Resp.infoField(Resp.command(node.port(), "INFO", "replication"), "role");
      if ("slave".equals(role)) {
        String stat = Resp.infoField(Resp.command(node.port(), "INFO", "commandstats"), "cmdstat_hmget");
        if (stat != null) {
          calls += Long.parseLong(stat.replaceAll("^calls=(\\d+),.*", "$1"));
        }
      }
    }
    return calls;
  }

  @Test
  @DisplayName("cluster: a slot migrating (ASK) and migrated (MOVED) is followed; no redirect reaches a reader")
  void clusterRedirectsAreFollowed() throws Exception {
    cluster = LocalRedisCluster.start(3, 0);
    RunningGateway gw = clusterGateway("master");
    String uid = "mig-1";
    String key = gw.config.redis().profileKey(uid);
    gw.putProfile(uid, Map.of("first_name", "Before"));
    assertThat(name(gw.greeting(uid))).isEqualTo("Before");

    EmbeddedRedis source = cluster.masterFor(key);
    EmbeddedRedis target = cluster.nodes().stream().filter(n -> n != source).findFirst().orElseThrow();
    String slot = Integer.toString(LocalRedisCluster.slot(key));
    String sourceId = (String) Resp.command(source.port(), "CLUSTER", "MYID");
    String targetId = (String) Resp.command(target.port(), "CLUSTER", "MYID");
    Resp.command(target.port(), "CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
    Resp.command(source.port(), "CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
    Resp.command(source.port(), "MIGRATE", "127.0.0.1", Integer.toString(target.port()), "", "0", "5000",
        "KEYS", key);

    // Mid-migration the source answers ASK for the moved key: the client must ask the target.
    gw.putProfile(uid, Map.of("first_name", "Asked")); // the write is redirected too
    gw.ticker.advance(Duration.ofMinutes(11)); // past expire-after: the next open reads Redis
    HttpResponse<String> asked = gw.greeting(uid);
    assertThat(source(asked)).isEqualTo("redis");
    assertThat(name(asked)).isEqualTo("Asked");

    for (EmbeddedRedis master : cluster.nodes()) {
      Resp.command(master.port(), "CLUSTER", "SETSLOT", slot, "NODE", targetId);
    }
    // Now every node answers MOVED for the slot until the client's slot map is refreshed.
    gw.putProfile(uid, Map.of("first_name", "Moved"));
    gw.ticker.advance(Duration.ofMinutes(11));
    HttpResponse<String> moved = gw.greeting(uid);
    assertThat(source(moved)).isEqualTo("redis");
    assertThat(name(moved)).isEqualTo("Moved");
    assertThat(cluster.masterFor(key)).isSameAs(target);

    rename(gw, uid, "Updated"); // the update script follows the slot as well
    Await.until("the update lands on the new owner", Duration.ofSeconds(30),
        () -> name(gw.greeting(uid)).equals("Updated"));
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "error")).isZero();
  }

  @Test
  @DisplayName("cluster: a hung master trips the breakers of its own slots, while reads elsewhere go on")
  void clusterHungMasterTripsItsOwnBreakers() throws Exception {
    cluster = LocalRedisCluster.start(3, 0);
    for (EmbeddedRedis node : cluster.nodes()) { // the healthy masters keep serving their slots while one is out
      Resp.command(node.port(), "CONFIG", "SET", "cluster-require-full-coverage", "no");
    }
    RunningGateway gw = clusterGateway(Map.of("OPENTIME_REDIS_DEADLINE", "100ms"));
    EmbeddedRedis victim = cluster.nodes().get(1); // not the first seed (see the test below)
    // Readers of the hung master whose slots share one breaker group, and readers of the other masters.
    List<String> onVictim = new ArrayList<>();
    List<String> elsewhere = new ArrayList<>();
    int group = -1;
    for (int i = 0; onVictim.size() < 30 || elsewhere.size() < 30; i++) {
      String uid = "hung-" + i;
      String key = gw.config.redis().profileKey(uid);
      int g = LocalRedisCluster.slot(key) * ProfileStore.CLUSTER_BREAKERS / LocalRedisCluster.SLOTS;
      if (cluster.masterFor(key) == victim) {
        if (group == -1) {
          group = g;
        }
        if (g == group && onVictim.size() < 30) {
          onVictim.add(uid);
          gw.putProfile(uid, Map.of("first_name", "N-" + uid));
        }
      } else if (elsewhere.size() < 30) {
        elsewhere.add(uid);
        gw.putProfile(uid, Map.of("first_name", "N-" + uid));
      }
    }
    victim.pause();
    try {
      // Each read of the hung master misses its deadline, and reads of healthy masters succeed in between. A
      // success resets a breaker's failure count, so one breaker for the whole cluster would never open: every read
      // of the hung master would wait out the deadline, piling commands onto it. Per slot group, its breaker opens.
      for (int i = 0; i < 30; i++) {
        assertThat(name(gw.greeting(onVictim.get(i)))).isEqualTo(DEFAULT_NAME);
        HttpResponse<String> healthy = gw.greeting(elsewhere.get(i));
        assertThat(source(healthy)).as("reader %s on a healthy master", elsewhere.get(i)).isEqualTo("redis");
        assertThat(name(healthy)).isEqualTo("N-" + elsewhere.get(i));
      }
      assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "timeout")).isBetween(20.0, 29.0);
      assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "breaker_open")).isGreaterThanOrEqualTo(1.0);
      assertThat(gw.gateway.services().store().breakerState()).isNotEqualTo(
          io.vertx.circuitbreaker.CircuitBreakerState.CLOSED);
    } finally {
      victim.resume();
    }
    Await.until("the hung master's readers are read again", Duration.ofSeconds(20), () -> {
      gw.ticker.advance(Duration.ofMinutes(11));
      return name(gw.greeting(onVictim.get(0))).equals("N-" + onVictim.get(0));
    });
  }

  @Test
  @DisplayName("cluster: a hung master (the first seed) is failed over; the gateway recovers while it still hangs")
  void clusterHungFirstSeedRecoversWhileItHangs() throws Exception {
    cluster = LocalRedisCluster.start(3, 1);
    RunningGateway gw = clusterGateway(Map.of("OPENTIME_REDIS_DEADLINE", "100ms"));
    // The victim is the first seed: the cluster client asks it first for the slot map, with no deadline, so its
    // hang stalls the client's commands until the link rebuilds its client from the next seed.
    EmbeddedRedis victim = cluster.nodes().get(0);
    List<String> onVictim = new ArrayList<>();
    List<String> elsewhere = new ArrayList<>();
    for (int i = 0; onVictim.size() < 20 || elsewhere.size() < 20; i++) {
      String uid = "hung-" + i;
      List<String> list = cluster.masterFor(gw.config.redis().profileKey(uid)) == victim ? onVictim : elsewhere;
      if (list.size() < 20) {
        list.add(uid);
        gw.putProfile(uid, Map.of("first_name", "N-" + uid));
      }
    }
    awaitReplicated(cluster.nodes().subList(0, 3));
    List<String> all = new ArrayList<>(onVictim);
    all.addAll(elsewhere);
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Answer> seen = new ConcurrentLinkedQueue<>();
    Map<String, Set<String>> allowed = new java.util.HashMap<>();
    all.forEach(uid -> allowed.put(uid, Set.of("N-" + uid)));
    victim.pause();
    long hungAt = System.nanoTime();
    Thread loader = load(gw, all, stop, seen);
    try {
      cluster.awaitFailover(victim, FAILOVER);
      System.out.printf("hung master failed over %d ms into the hang%n", (System.nanoTime() - hungAt) / 1_000_000);
      stop.set(true);
      loader.join(10_000);
      assertEveryReaderReadAgain(gw, all, allowed); // while the old master still hangs
      System.out.printf("every reader read from Redis again %d ms into the hang%n",
          (System.nanoTime() - hungAt) / 1_000_000);
    } finally {
      stop.set(true);
      loader.join(10_000);
      victim.resume();
    }
    assertEveryAnswerSafe(seen, allowed);
  }

  /** What the load saw: every answer, with the reader it was for. */
  private record Answer(String uid, int status, String source, String name) {
  }

  /**
   * Opens the readers' greetings in a loop on a thread of its own until stopped, with the cache clock moving past
   * refresh-after on every round, so that every round reads Redis again (in the background, as stale entries do).
   */
  private Thread load(RunningGateway gw, List<String> readers, AtomicBoolean stop, ConcurrentLinkedQueue<Answer> seen) {
    Thread t = new Thread(() -> {
      while (!stop.get()) {
        gw.ticker.advance(Duration.ofSeconds(6));
        for (String uid : readers) {
          HttpResponse<String> r = gw.greeting(uid);
          seen.add(new Answer(uid, r.statusCode(), source(r), r.statusCode() == 200 ? name(r) : r.body()));
        }
      }
    }, "topology-load");
    t.start();
    return t;
  }

  /** Every answer a 200 with the reader's own name (current or last good) or the default: never anyone else's. */
  private static void assertEveryAnswerSafe(ConcurrentLinkedQueue<Answer> seen, Map<String, Set<String>> allowed) {
    assertThat(seen).isNotEmpty();
    for (Answer a : seen) {
      assertThat(a.status()).as("status for %s", a.uid()).isEqualTo(200);
      Set<String> ok = new HashSet<>(allowed.get(a.uid()));
      ok.add(DEFAULT_NAME);
      assertThat(ok).as("name answered to %s (source %s)", a.uid(), a.source()).contains(a.name());
    }
  }

  @Test
  @DisplayName("cluster: a master killed under load fails over; answers stay 200, then personalized again")
  void clusterMasterKilledUnderLoad() throws Exception {
    cluster = LocalRedisCluster.start(3, 1);
    RunningGateway gw = clusterGateway("master");
    List<String> readers = readersOnEveryMaster(gw, "fo-", 3);
    Map<String, Set<String>> allowed = new java.util.HashMap<>();
    for (String uid : readers) {
      gw.putProfile(uid, Map.of("first_name", "A-" + uid));
      allowed.put(uid, new HashSet<>(Set.of("A-" + uid)));
    }
    // the writes reach the replicas before the kill, or the promoted replica would not have them
    awaitReplicated(cluster.nodes().subList(0, 3));
    String victimReader = readers.get(0);
    EmbeddedRedis victim = cluster.masterFor(gw.config.redis().profileKey(victimReader));
    failOverUnderLoad(gw, readers, allowed, victimReader, "cluster", () -> {
      victim.kill();
      cluster.awaitFailover(victim, FAILOVER);
    });
  }

  /** Kills and replaces a master; returns once the replacement serves. */
  private interface Failover {
    void run() throws Exception;
  }

  /**
   * The failover under load, and what must hold around it: every answer during it a 200 with the reader's own or
   * default data; the failure seen by the read path; an update made after it (to {@code renamed}) answered; every
   * reader read from Redis again. No restart anywhere.
   */
  private void failOverUnderLoad(RunningGateway gw, List<String> readers, Map<String, Set<String>> allowed,
                                 String renamed, String what, Failover failover) throws Exception {
    double failedReadsBefore = failedReads(gw);
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Answer> seen = new ConcurrentLinkedQueue<>();
    Thread loader = load(gw, readers, stop, seen);
    try {
      Thread.sleep(500);
      long killedAt = System.nanoTime();
      failover.run();
      System.out.printf("%s failover took %d ms%n", what, (System.nanoTime() - killedAt) / 1_000_000);
      allowed.get(renamed).add("B-" + renamed);
      rename(gw, renamed, "B-" + renamed);
      Await.until("the update after the failover is answered", Duration.ofSeconds(30),
          () -> name(gw.greeting(renamed)).equals("B-" + renamed));
    } finally {
      stop.set(true);
      loader.join(10_000);
    }
    assertEveryAnswerSafe(seen, allowed);
    assertThat(failedReads(gw)).as("the kill did reach the read path").isGreaterThan(failedReadsBefore);
    assertEveryReaderReadAgain(gw, readers, allowed);
  }

  /**
   * Every reader is soon read from Redis again and personalized: each link has reconnected and the breaker closed
   * (within reconnect-max-delay plus breaker reset-after of the failover, 2 s + 1 s here).
   */
  private static void assertEveryReaderReadAgain(RunningGateway gw, List<String> readers,
                                                 Map<String, Set<String>> allowed) {
    long from = System.nanoTime();
    Await.until("every reader read from Redis again", Duration.ofSeconds(15), () -> {
      gw.ticker.advance(Duration.ofMinutes(11)); // past expire-after: nothing cached is left
      for (String uid : readers) {
        HttpResponse<String> r = gw.greeting(uid);
        if (!source(r).equals("redis") || !allowed.get(uid).contains(name(r))) {
          return false;
        }
      }
      return true;
    });
    System.out.printf("every reader personalized from Redis %d ms after the update was seen%n",
        (System.nanoTime() - from) / 1_000_000);
  }

  /**
   * Waits until every replica of these masters has acknowledged the masters' whole replication stream. (WAIT would
   * only count the writes of the connection it is sent on, and the gateway's client made them.)
   */
  private static void awaitReplicated(List<EmbeddedRedis> masters) {
    Await.until("replicas caught up with their masters", Duration.ofSeconds(10), () -> {
      try {
        for (EmbeddedRedis m : masters) {
          String info = (String) Resp.command(m.port(), "INFO", "replication");
          long offset = Long.parseLong(Resp.infoField(info, "master_repl_offset"));
          int replicas = Integer.parseInt(Resp.infoField(info, "connected_slaves"));
          if (replicas == 0) {
            return false;
          }
          for (int i = 0; i < replicas; i++) {
            String slave = Resp.infoField(info, "slave" + i); // ip=..,port=..,state=online,offset=N,lag=0
            long acked = Long.parseLong(slave.replaceAll(".*offset=(\\d+).*", "$1"));
            if (acked < offset) {
              return false;
            }
          }
        }
        return true;
      } catch (Exception e) {
        return false;
      }
    });
  }

  private static double failedReads(RunningGateway gw) {
    return gw.registry.find(GatewayMetrics.REDIS_READS).timers().stream()
        .filter(t -> !"ok".equals(t.getId().getTag("outcome")))
        .mapToDouble(t -> t.count()).sum();
  }

  @Test
  @DisplayName("sentinel: the master killed under load; reads and updates follow the new master by themselves")
  void sentinelMasterKilledUnderLoad() throws Exception {
    sentinel = LocalSentinel.start("opentime");
    RunningGateway gw = sentinelGateway();
    List<String> readers = List.of("se-1", "se-2", "se-3", "se-4", "se-5");
    Map<String, Set<String>> allowed = new java.util.HashMap<>();
    for (String uid : readers) {
      gw.putProfile(uid, Map.of("first_name", "A-" + uid));
      allowed.put(uid, new HashSet<>(Set.of("A-" + uid)));
      assertThat(name(gw.greeting(uid))).isEqualTo("A-" + uid);
    }
    awaitReplicated(List.of(sentinel.master()));
    failOverUnderLoad(gw, readers, allowed, "se-1", "sentinel", () -> {
      EmbeddedRedis old = sentinel.killMaster();
      sentinel.awaitNewMaster(old, FAILOVER);
    });
  }
}
