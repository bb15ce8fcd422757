package io.opentime.config;

import java.time.Duration;
import java.util.Map;

/**
 * Where events go and come from. An empty {@code bootstrapServers} turns events off: the pixel and click routes
 * still answer, nothing is recorded (and that is counted), and no updater runs.
 *
 * @param properties extra Kafka client properties (security, for instance) given to every producer and consumer;
 *                   the delivery guarantees set by the gateway (acks, idempotence, commits) cannot be overridden
 */
public record KafkaConfig(String bootstrapServers, String clientId, Topics topics, int queueCapacity,
                          Duration maxBlock, Duration deliveryTimeout, Map<String, String> properties) {

  public KafkaConfig {
    properties = Map.copyOf(properties);
  }

  /** Topic names. */
  public record Topics(String profileEvents, String opens, String clicks, String deadLetter) {
  }

  public boolean enabled() {
    return !bootstrapServers.isEmpty();
  }

  public KafkaConfig withBootstrapServers(String servers) {
    return new KafkaConfig(servers, clientId, topics, queueCapacity, maxBlock, deliveryTimeout, properties);
  }

  public KafkaConfig withTopics(Topics t) {
    return new KafkaConfig(bootstrapServers, clientId, t, queueCapacity, maxBlock, deliveryTimeout, properties);
  }
}
