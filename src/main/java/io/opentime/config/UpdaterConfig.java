package io.opentime.config;

import java.time.Duration;

/**
 * The profile updater: consumes profile events and applies them to Redis.
 *
 * @param enabled              whether this process runs an updater (it also needs Kafka)
 * @param groupId              Kafka consumer group shared by every updater of one deployment
 * @param maxInFlight          events of one partition being applied at once; beyond, the partition is paused
 * @param applyDeadline        longest wait for one apply before it is retried
 * @param retryMaxDelay        cap of the retry backoff while Redis fails
 * @param invalidationChannel  Redis pub/sub channel the updater publishes changed uids on and gateways listen to
 */
public record UpdaterConfig(boolean enabled, String groupId, int maxInFlight, Duration applyDeadline,
                            Duration retryMaxDelay, String invalidationChannel) {
}
