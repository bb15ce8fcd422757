package io.opentime.config;

import io.opentime.token.TokenKeys;
import java.time.Duration;

/**
 * {@code POST /v1/events}: signed event batches from sources that cannot write to Kafka. No keys: the route is off.
 *
 * @param keys         HMAC keys ({@code kid:base64secret}); every key verifies
 * @param replayWindow how far a request's timestamp may be from the gateway's clock
 * @param ackTimeout   longest wait for Kafka to acknowledge a batch before answering 503
 */
public record WebhookConfig(TokenKeys keys, int maxEvents, int maxBodyBytes, Duration replayWindow,
                            Duration ackTimeout) {

  public boolean enabled() {
    return !keys.isEmpty();
  }
}
