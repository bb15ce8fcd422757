package io.opentime.config;

/**
 * Everything about events: Kafka, the updater, consent, click links and the webhook.
 *
 * @param requireExplicitConsent when true, a profile without a consent flag counts as not having given it
 */
public record EventsConfig(KafkaConfig kafka, UpdaterConfig updater, boolean requireExplicitConsent,
                           LinksConfig links, WebhookConfig webhook) {

  public EventsConfig withKafka(KafkaConfig k) {
    return new EventsConfig(k, updater, requireExplicitConsent, links, webhook);
  }

  public EventsConfig withUpdater(UpdaterConfig u) {
    return new EventsConfig(kafka, u, requireExplicitConsent, links, webhook);
  }

  public EventsConfig withWebhook(WebhookConfig w) {
    return new EventsConfig(kafka, updater, requireExplicitConsent, links, w);
  }
}
