package io.opentime.config;

import java.time.Duration;

/**
 * The profile updater: consumes profile events and applies them to Redis.
 *
 * @param enabled              whether this process runs updaters (it also needs Kafka)
 * @param instances            updater verticles (each one consumer and one Redis connection) in this process
 * @param groupId              Kafka consumer group shared by every updater of one deployment
 * @param maxInFlight          events of one partition being applied at once; beyond, the partition is paused
 * @param applyDeadline        longest wait for one apply before it is retried
 * @param retryMaxDelay        cap of the retry backoff while Redis fails
 * @param invalidationChannel  Redis pub/sub channel the updater publishes changed uids on and gateways listen to
 */
public record UpdaterConfig(boolean enabled, int instances, String groupId, int maxInFlight, Duration applyDeadline,
                            Duration retryMaxDelay, String invalidationChannel) {
}
