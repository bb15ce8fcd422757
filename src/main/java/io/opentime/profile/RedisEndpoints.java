package io.opentime.profile;

import io.opentime.config.RedisConfig;
import io.vertx.redis.client.ProtocolVersion;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisReplicas;
import io.vertx.redis.client.RedisRole;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the Vert.x Redis client options for each kind of connection from {@link RedisConfig}, for all three
 * deployments: standalone, Sentinel and Cluster.
 *
 * <p>Every connection speaks RESP2: no push message can interleave with replies (a RESP3 push taken for a reply
 * would hand one reader's answer to another). Connects are short ({@code redis.connect-timeout}).
 *
 * <ul>
 *   <li>{@link #reads} answer profile, catalog and link reads: from masters or replicas as {@code redis.read-from}
 *       says.</li>
 *   <li>{@link #writes} run the updater's script: always on the master of the reader's slot. With Sentinel,
 *       automatic failover is on, so a connection follows a new master even when the old one stays up.</li>
 *   <li>{@link #subscriptions} carry the invalidation subscription, on a connection of its own. In Cluster mode a
 *       {@code PUBLISH} reaches every node, so it subscribes on one seed node at a time (plain connection) and moves
 *       to the next when that node goes away, instead of depending on every node being up.</li>
 * </ul>
 */
public final class RedisEndpoints {

  private final RedisConfig config;

  public RedisEndpoints(RedisConfig config) {
    this.config = config;
  }

  public RedisConfig config() {
    return config;
  }

  /** Options for a connection that reads profiles (and the catalog and links). */
  public RedisOptions reads(String metricsName) {
    RedisOptions o = base(metricsName);
    switch (config.mode()) {
      case STANDALONE -> { }
      case SENTINEL -> {
        boolean replicas = config.readFrom() == RedisConfig.ReadFrom.REPLICAS;
        o.setRole(replicas ? RedisRole.REPLICA : RedisRole.MASTER).setAutoFailover(!replicas);
      }
      case CLUSTER -> o.setUseReplicas(switch (config.readFrom()) {
        case MASTER -> RedisReplicas.NEVER;
        case REPLICAS -> RedisReplicas.ALWAYS;
        case ANY -> RedisReplicas.SHARE;
      });
    }
    return o;
  }

  /** Options for a connection that writes profiles: the master, whatever {@code read-from} says. */
  public RedisOptions writes(String metricsName) {
    RedisOptions o = base(metricsName);
    switch (config.mode()) {
      case STANDALONE -> { }
      case SENTINEL -> o.setRole(RedisRole.MASTER).setAutoFailover(true);
      case CLUSTER -> o.setUseReplicas(RedisReplicas.NEVER);
    }
    return o;
  }

  /**
   * Options for the invalidation subscription, to be tried in turn: one entry (the server, or the Sentinels'
   * master) except in Cluster mode, where there is one plain connection per seed node.
   */
  public List<RedisOptions> subscriptions(String metricsName) {
    if (config.mode() != RedisConfig.Mode.CLUSTER) {
      RedisOptions o = base(metricsName);
      if (config.mode() == RedisConfig.Mode.SENTINEL) {
        // no automatic failover: it would not carry the subscription over; a dropped one is re-made instead
        o.setRole(RedisRole.MASTER);
      }
      return List.of(o);
    }
    List<RedisOptions> each = new ArrayList<>();
    for (String url : config.urls()) {
      each.add(base(metricsName).setType(RedisClientType.STANDALONE).setEndpoints(new ArrayList<>(List.of(url))));
    }
    return List.copyOf(each);
  }

  private RedisOptions base(String metricsName) {
    RedisOptions o = new RedisOptions()
        .setType(switch (config.mode()) {
          case STANDALONE -> RedisClientType.STANDALONE;
          case SENTINEL -> RedisClientType.SENTINEL;
          case CLUSTER -> RedisClientType.CLUSTER;
        })
        .setEndpoints(new ArrayList<>(config.urls()))
        .setMasterName(config.masterName())
        .setMetricsName(metricsName)
        .setPreferredProtocolVersion(ProtocolVersion.RESP2);
    o.getNetClientOptions().setConnectTimeout((int) config.connectTimeout().toMillis()).setTcpNoDelay(true);
    return o;
  }
}
