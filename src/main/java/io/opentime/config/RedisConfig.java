package io.opentime.config;

import java.time.Duration;

/**
 * Where profiles live and how long we wait for them. {@code deadline} bounds every profile read; after
 * {@code breakerFailures} failed reads in a row the breaker opens and reads fail at once, for
 * {@code breakerResetAfter}, before one probe read is let through.
 */
public record RedisConfig(String url, String keyPrefix, Duration deadline, Duration connectTimeout,
                          int breakerFailures, Duration breakerResetAfter, Duration reconnectMaxDelay) {

  /** The same settings for another Redis. */
  public RedisConfig withUrl(String otherUrl) {
    return new RedisConfig(otherUrl, keyPrefix, deadline, connectTimeout, breakerFailures, breakerResetAfter,
        reconnectMaxDelay);
  }

  /** The profile hash key for a reader. */
  public String profileKey(String uid) {
    return keyPrefix + uid;
  }
}
