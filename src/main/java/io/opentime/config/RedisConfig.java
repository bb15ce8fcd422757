package io.opentime.config;

import java.time.Duration;
import java.util.List;

/**
 * Where profiles live and how long we wait for them.
 *
 * <p>{@code mode} says what {@code urls} are: the one server ({@link Mode#STANDALONE}), the Sentinels that watch
 * {@code masterName} ({@link Mode#SENTINEL}), or seed nodes of a Redis Cluster ({@link Mode#CLUSTER}, any subset:
 * the rest is discovered). {@code readFrom} says which servers answer profile reads; writes always go to masters.
 *
 * <p>{@code deadline} bounds every profile read; after {@code breakerFailures} failed reads in a row the breaker
 * opens and reads fail at once, for {@code breakerResetAfter}, before one probe read is let through.
 *
 * <p>{@code batchWindow}: how long an event loop's connection gathers reads before writing them to Redis together
 * (zero: to the end of the loop's current turn). Standalone and Sentinel only (a Cluster connection sends one by one).
 */
public record RedisConfig(Mode mode, List<String> urls, String masterName, ReadFrom readFrom, String keyPrefix,
                          Duration deadline, Duration connectTimeout, int breakerFailures, Duration breakerResetAfter,
                          Duration reconnectMaxDelay, Duration batchWindow) {

  /** The Redis deployment the URLs point at. */
  public enum Mode {
    STANDALONE, SENTINEL, CLUSTER
  }

  /** Which servers answer profile reads. */
  public enum ReadFrom {
    /** The master of the reader's data: reads see every applied update. */
    MASTER,
    /** Replicas only: the masters serve writes alone, reads may lag replication by a few milliseconds. */
    REPLICAS,
    /** Masters and replicas alike (Cluster only). */
    ANY
  }

  public RedisConfig {
    urls = List.copyOf(urls);
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("at least one Redis URL is needed");
    }
  }

  /** A standalone Redis at {@code url} with these settings (and reads from it). */
  public RedisConfig withUrl(String url) {
    return new RedisConfig(Mode.STANDALONE, List.of(url), masterName, ReadFrom.MASTER, keyPrefix, deadline,
        connectTimeout, breakerFailures, breakerResetAfter, reconnectMaxDelay, batchWindow);
  }

  /** The same settings for another deployment. */
  public RedisConfig withTopology(Mode otherMode, List<String> otherUrls, ReadFrom otherReadFrom) {
    return new RedisConfig(otherMode, otherUrls, masterName, otherReadFrom, keyPrefix, deadline, connectTimeout,
        breakerFailures, breakerResetAfter, reconnectMaxDelay, batchWindow);
  }

  /** The deployment for logs: the mode and its URLs, with any password masked. */
  public String describe() {
    return mode.name().toLowerCase(java.util.Locale.ROOT) + " "
        + String.join(",", urls.stream().map(RedisConfig::redacted).toList())
        + (mode == Mode.SENTINEL ? " (master " + masterName + ")" : "")
        + (readFrom == ReadFrom.MASTER ? "" : ", reads from " + readFrom.name().toLowerCase(java.util.Locale.ROOT));
  }

  /** A Redis URL with its user and password masked. */
  public static String redacted(String url) {
    return url.replaceFirst("//([^@/]*)@", "//***@");
  }

  /** The first URL: the server itself in standalone mode, the first Sentinel or seed node otherwise. */
  public String url() {
    return urls.get(0);
  }

  /**
   * The profile hash key for a reader: {@code <keyPrefix>{<uid>}}. The braces are a Redis Cluster hash tag: every
   * key named after the same reader ({@code <anything>{<uid>}}) lands in the same slot, so one script may touch
   * several of them (docs/scaling.md, "Key layout").
   */
  public String profileKey(String uid) {
    return profileKey(keyPrefix, uid);
  }

  /** The profile hash key for a reader under a given prefix (see {@link #profileKey(String)}). */
  public static String profileKey(String keyPrefix, String uid) {
    return keyPrefix + '{' + uid + '}';
  }
}
