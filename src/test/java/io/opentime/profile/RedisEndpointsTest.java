package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.config.ConfigParser;
import io.opentime.config.RedisConfig;
import io.opentime.support.TestConfig;
import io.vertx.redis.client.ProtocolVersion;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisReplicas;
import io.vertx.redis.client.RedisRole;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** What each kind of connection is told, per deployment (the tests against real servers are in RedisTopologyTest). */
class RedisEndpointsTest {

  private static RedisEndpoints endpoints(Map<String, String> env) {
    return new RedisEndpoints(ConfigParser.parse(TestConfig.shippedYaml(), env).redis());
  }

  @Test
  @DisplayName("standalone: one server for reads, writes and the subscription, all RESP2")
  void standalone() {
    RedisEndpoints e = endpoints(Map.of("OPENTIME_REDIS_URL", "redis://127.0.0.1:6390"));
    for (RedisOptions o : List.of(e.reads("r"), e.writes("w"), e.subscriptions("s").get(0))) {
      assertThat(o.getType()).isEqualTo(RedisClientType.STANDALONE);
      assertThat(o.getEndpoints()).containsExactly("redis://127.0.0.1:6390");
      assertThat(o.getPreferredProtocolVersion()).isEqualTo(ProtocolVersion.RESP2);
      assertThat(o.getNetClientOptions().getConnectTimeout()).isEqualTo(1000);
    }
    assertThat(e.subscriptions("s")).hasSize(1);
  }

  @Test
  @DisplayName("cluster: reads go where read-from says, writes to masters, the subscription to one seed at a time")
  void cluster() {
    RedisEndpoints e = endpoints(Map.of("OPENTIME_REDIS_MODE", "cluster",
        "OPENTIME_REDIS_URL", "redis://127.0.0.1:7000,redis://127.0.0.1:7001", "OPENTIME_REDIS_READ_FROM", "replicas"));
    assertThat(e.reads("r").getType()).isEqualTo(RedisClientType.CLUSTER);
    assertThat(e.reads("r").getUseReplicas()).isEqualTo(RedisReplicas.ALWAYS);
    assertThat(e.reads("r").getEndpoints()).hasSize(2);
    assertThat(e.writes("w").getUseReplicas()).isEqualTo(RedisReplicas.NEVER);
    assertThat(e.subscriptions("s")).extracting(RedisOptions::getType)
        .containsExactly(RedisClientType.STANDALONE, RedisClientType.STANDALONE);
    assertThat(e.subscriptions("s")).extracting(RedisOptions::getEndpoint)
        .containsExactly("redis://127.0.0.1:7000", "redis://127.0.0.1:7001");
    RedisEndpoints any = endpoints(Map.of("OPENTIME_REDIS_MODE", "cluster", "OPENTIME_REDIS_READ_FROM", "any"));
    assertThat(any.reads("r").getUseReplicas()).isEqualTo(RedisReplicas.SHARE);
  }

  @Test
  @DisplayName("sentinel: writes follow a failover automatically; replica reads and the subscription do not need to")
  void sentinel() {
    RedisEndpoints master = endpoints(Map.of("OPENTIME_REDIS_MODE", "sentinel",
        "OPENTIME_REDIS_URL", "redis://127.0.0.1:26379", "OPENTIME_REDIS_MASTER_NAME", "profiles"));
    assertThat(master.writes("w").getType()).isEqualTo(RedisClientType.SENTINEL);
    assertThat(master.writes("w").getMasterName()).isEqualTo("profiles");
    assertThat(master.writes("w").getRole()).isEqualTo(RedisRole.MASTER);
    assertThat(master.writes("w").isAutoFailover()).isTrue();
    assertThat(master.reads("r").isAutoFailover()).isTrue();
    assertThat(master.subscriptions("s").get(0).isAutoFailover()).isFalse();
    RedisEndpoints replicas = endpoints(Map.of("OPENTIME_REDIS_MODE", "sentinel",
        "OPENTIME_REDIS_URL", "redis://127.0.0.1:26379", "OPENTIME_REDIS_READ_FROM", "replicas"));
    assertThat(replicas.reads("r").getRole()).isEqualTo(RedisRole.REPLICA);
    assertThat(replicas.writes("w").getRole()).isEqualTo(RedisRole.MASTER);
    assertThat(replicas.config().readFrom()).isEqualTo(RedisConfig.ReadFrom.REPLICAS);
  }
}
