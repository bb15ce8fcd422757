package io.opentime.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.demo.EmbeddedRedis;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The Redis Cluster and Sentinel fixtures against real {@code redis-server} processes: keys routed by slot, a replica
 * taking over a killed cluster master with the data written before the kill, sentinels electing a new master.
 */
class LocalRedisTopologiesTest {

  static final int KEYS = 100;

  static String key(int i) {
    return "profile:{u" + i + "}";
  }

  static long msSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  @Test
  @DisplayName("slot(): CRC16-XMODEM of the key, or of its first non-empty {hash tag}, modulo 16384")
  void slot() {
    assertThat(LocalRedisCluster.slot("123456789")).isEqualTo(0x31C3); // the XMODEM check value, below 16384
    assertThat(LocalRedisCluster.slot("{user1000}.following"))
        .isEqualTo(LocalRedisCluster.slot("{user1000}.followers"))
        .isEqualTo(LocalRedisCluster.slot("user1000"));
    assertThat(LocalRedisCluster.slot("a{}{b}")).isNotEqualTo(LocalRedisCluster.slot("b")); // empty tag: whole key
  }

  @Test
  @DisplayName("cluster, 3 masters with 1 replica each: keys routed by slot; a killed master's replica serves its data")
  void cluster() throws Exception {
    long start = System.nanoTime();
    try (LocalRedisCluster cluster = LocalRedisCluster.start(3, 1)) {
      System.out.printf("LocalRedisCluster: 3 masters + 3 replicas ready in %d ms%n", msSince(start));
      assertThat(cluster.nodes()).hasSize(6);
      assertThat(cluster.seedUrls()).allMatch(u -> u.startsWith("redis://127.0.0.1:"));
      assertThat(cluster.seedList()).isEqualTo(String.join(",", cluster.seedUrls()));

      int anyPort = cluster.nodes().get(0).port();
      for (String k : List.of("foo", "123456789", key(7), "{user1000}.following", "a{}{b}", "{{x}}", "x{", "}{y}",
          "{a}{b}", "é{ü}", "")) {
        assertThat(LocalRedisCluster.slot(k)).as("slot of \"%s\"", k)
            .isEqualTo(((Long) Resp.command(anyPort, "CLUSTER", "KEYSLOT", k)).intValue());
      }

      Set<EmbeddedRedis> written = new HashSet<>();
      for (int i = 0; i < KEYS; i++) {
        EmbeddedRedis master = cluster.masterFor(key(i));
        assertThat(Resp.command(master.port(), "SET", key(i), "v" + i)).isEqualTo("OK");
        written.add(master);
      }
      assertThat(written).as("masters written to").hasSize(3);
      for (int i = 0; i < KEYS; i++) {
        assertThat(Resp.command(cluster.masterFor(key(i)).port(), "GET", key(i))).isEqualTo("v" + i);
      }

      String key = key(7);
      EmbeddedRedis old = cluster.masterFor(key);
      EmbeddedRedis elsewhere = written.stream().filter(m -> m != old).findFirst().orElseThrow();
      assertThatThrownBy(() -> Resp.command(elsewhere.port(), "GET", key))
          .isInstanceOf(Resp.ErrorReply.class)
          .hasMessage("MOVED " + LocalRedisCluster.slot(key) + " 127.0.0.1:" + old.port());

      // WAIT counts the replicas that have every write of its own connection: write once more on the connection that
      // waits. Replication is in order, so the master's earlier writes have reached the replica too.
      try (Resp conn = Resp.connect(old.port())) {
        assertThat(conn.call("SET", key, "v7")).isEqualTo("OK");
        assertThat(conn.call("WAIT", "1", "1000")).isEqualTo(1L);
      }
      // the wait is bounded, and says why it failed: no failover while the master lives
      assertThatThrownBy(() -> cluster.awaitFailover(old, Duration.ofMillis(200)))
          .isInstanceOf(TimeoutException.class)
          .hasMessageContaining("served by node " + old.port())
          .hasMessageContaining("last log lines of each node");
      long killed = System.nanoTime();
      old.kill();
      cluster.awaitFailover(old, Duration.ofSeconds(15));
      System.out.printf("LocalRedisCluster: replica took over from the killed master in %d ms%n", msSince(killed));

      EmbeddedRedis promoted = cluster.masterFor(key);
      assertThat(promoted).isNotSameAs(old);
      assertThat(promoted.alive()).isTrue();
      assertThat(Resp.command(promoted.port(), "GET", key)).isEqualTo("v7");
      for (int i = 0; i < KEYS; i++) {
        assertThat(Resp.command(cluster.masterFor(key(i)).port(), "GET", key(i))).as(key(i)).isEqualTo("v" + i);
      }
      assertThat(Resp.command(promoted.port(), "SET", key, "after")).isEqualTo("OK");
    }
  }

  @Test
  @DisplayName("sentinel, 1 master + 2 replicas + 3 sentinels: the master killed, a replica is elected, has the data")
  void sentinel() throws Exception {
    long start = System.nanoTime();
    try (LocalSentinel setup = LocalSentinel.start("opentime")) {
      System.out.printf("LocalSentinel: 1 master + 2 replicas + 3 sentinels ready in %d ms%n", msSince(start));
      assertThat(setup.masterName()).isEqualTo("opentime");
      assertThat(setup.sentinelUrls()).hasSize(3).allMatch(u -> u.startsWith("redis://127.0.0.1:"));
      assertThat(setup.sentinelList()).isEqualTo(String.join(",", setup.sentinelUrls()));

      EmbeddedRedis first = setup.master();
      try (Resp conn = Resp.connect(first.port())) {
        assertThat(conn.call("SET", "before", "1")).isEqualTo("OK");
        assertThat(conn.call("WAIT", "2", "1000")).isEqualTo(2L);
      }
      // the wait is bounded, and says why it failed: no new master while the master lives
      assertThatThrownBy(() -> setup.awaitNewMaster(first, Duration.ofMillis(200)))
          .isInstanceOf(TimeoutException.class)
          .hasMessageContaining("still names " + first.port());
      long killedAt = System.nanoTime();
      EmbeddedRedis killed = setup.killMaster();
      assertThat(killed).isSameAs(first);
      assertThat(killed.alive()).isFalse();
      setup.awaitNewMaster(killed, Duration.ofSeconds(20));
      System.out.printf("LocalSentinel: new master elected and answering ROLE master %d ms after the kill%n",
          msSince(killedAt));

      EmbeddedRedis promoted = setup.master();
      assertThat(promoted).isNotSameAs(killed);
      assertThat(Resp.command(promoted.port(), "GET", "before")).isEqualTo("1");
      assertThat(Resp.command(promoted.port(), "SET", "after", "2")).isEqualTo("OK");
      assertThat(Resp.command(promoted.port(), "GET", "after")).isEqualTo("2");
    }
  }
}
