package io.opentime.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * The event meters (tracking, Kafka publishing, the updater, invalidations, the webhook), named in one place like
 * {@link GatewayMetrics}. Tags are fixed words or topic names from the configuration, never request data.
 */
public final class EventMetrics {

  public static final String TRACKED = "opentime.events.tracked";
  public static final String NOT_TRACKED = "opentime.events.not.tracked";
  public static final String DELIVERED = "opentime.events.delivered";
  public static final String DROPPED = "opentime.events.dropped";
  public static final String FAILED = "opentime.events.failed";
  public static final String QUEUED = "opentime.events.queued";
  public static final String SEND_RETRIES = "opentime.events.send.retries";
  public static final String APPLIED = "opentime.updater.applied";
  public static final String APPLY_TIME = "opentime.updater.apply";
  public static final String APPLY_RETRIES = "opentime.updater.retries";
  public static final String DEAD_LETTERED = "opentime.updater.dead.lettered";
  public static final String PAUSED = "opentime.updater.paused.partitions";
  public static final String LAG = "opentime.updater.lag";
  public static final String INVALIDATIONS = "opentime.cache.invalidations";
  public static final String INVALIDATION_CONNECTED = "opentime.cache.invalidation.connected";
  public static final String WEBHOOK = "opentime.webhook.requests";
  public static final String WEBHOOK_EVENTS = "opentime.webhook.events";

  private final MeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  /** Per topic: delivered, dropped, failed. Looked up per event by topic alone (no key built per call). */
  private final Map<String, Counter[]> byTopic = new ConcurrentHashMap<>();
  private final Map<String, Counter> appliedByResult = new ConcurrentHashMap<>();
  private final Timer applyTime;
  private final Counter[] tracked = new Counter[2]; // open, click
  private final java.util.concurrent.atomic.AtomicInteger paused = new java.util.concurrent.atomic.AtomicInteger();
  private final Map<Object, Long> lags = new ConcurrentHashMap<>();

  public EventMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.applyTime = Timer.builder(APPLY_TIME)
        .description("Time to apply one profile event to Redis (the Lua script's round trip)")
        .serviceLevelObjectives(GatewayMetrics.SLO_BUCKETS)
        .register(registry);
    for (String kind : new String[] {"open", "click"}) {
      tracked["open".equals(kind) ? 0 : 1] = counter(TRACKED, "Opens and clicks queued for Kafka", "kind", kind);
      for (String reason : new String[] {"bad_token", "no_consent", "consent_unknown", "events_off", "queue_full"}) {
        counter(NOT_TRACKED, "Opens and clicks answered but not recorded, by reason", "kind", kind, "reason", reason);
      }
    }
    for (String result : new String[] {"changed", "unchanged", "erased_before"}) {
      appliedByResult.put(result, counter(APPLIED, "Profile events applied to Redis, by effect", "result", result));
    }
    counter(APPLY_RETRIES, "Profile event applies retried after a Redis failure or deadline");
    counter(INVALIDATIONS, "Cached profiles dropped because an update was published");
    for (String outcome : new String[] {"accepted", "bad_signature", "stale_timestamp", "replayed", "invalid",
        "too_large", "kafka_unavailable"}) {
      counter(WEBHOOK, "Webhook requests by outcome", "outcome", outcome);
    }
    counter(WEBHOOK_EVENTS, "Events accepted by the webhook and acknowledged by Kafka");
    Gauge.builder(LAG, () -> lags.values().stream().mapToLong(Long::longValue).sum())
        .description("Profile events on the partitions this process's updaters own that are not applied yet")
        .register(registry);
    Gauge.builder(PAUSED, paused::get)
        .description("Partitions the updaters of this process have paused (too many events in flight, or Redis failing)")
        .register(registry);
    for (String reason : new String[] {"json", "schema"}) {
      counter(DEAD_LETTERED, "Profile events sent to the dead-letter topic, by reason", "reason", reason);
    }
  }

  /** Registers the per-topic delivery meters up front, so dashboards and alerts see them before the first event. */
  public void topics(String... topics) {
    for (String topic : topics) {
      topicCounters(topic);
    }
  }

  private Counter[] topicCounters(String topic) {
    return byTopic.computeIfAbsent(topic, t -> new Counter[] {
        counter(DELIVERED, "Events acknowledged by Kafka, by topic", "topic", t),
        counter(DROPPED, "Events refused because the queue in front of Kafka was full or the gateway was stopping",
            "topic", t),
        counter(FAILED, "Events the Kafka producer gave up on (delivery timeout or a non-retryable error)",
            "topic", t)});
  }

  private Counter counter(String name, String description, String... tags) {
    return counters.computeIfAbsent(name + String.join("/", tags),
        k -> Counter.builder(name).description(description).tags(tags).register(registry));
  }

  public void tracked(String kind) {
    tracked["open".equals(kind) ? 0 : 1].increment();
  }

  public void notTracked(String kind, String reason) {
    counter(NOT_TRACKED, "", "kind", kind, "reason", reason).increment();
  }

  public void delivered(String topic) {
    topicCounters(topic)[0].increment();
  }

  public void dropped(String topic) {
    topicCounters(topic)[1].increment();
  }

  public void failed(String topic) {
    topicCounters(topic)[2].increment();
  }

  public void sendRetried() {
    counter(SEND_RETRIES, "Times the sender waited for Kafka to take an event (Kafka away or slow)").increment();
  }

  public void bindQueue(IntSupplier depth) {
    Gauge.builder(QUEUED, depth::getAsInt).description("Events waiting in the queue in front of Kafka")
        .register(registry);
  }

  /** One applied event, by its effect ({@code changed}, {@code unchanged}, {@code erased_before}). */
  public void applied(String result, long nanos) {
    appliedByResult.get(result).increment();
    applyTime.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void applyRetried() {
    counter(APPLY_RETRIES, "").increment();
  }

  public void deadLettered(String reason) {
    counter(DEAD_LETTERED, "Profile events sent to the dead-letter topic, by reason", "reason", reason).increment();
  }

  /** One updater's lag (events not yet applied); negative removes it (the updater stopped). */
  public void updaterLag(Object updater, long lag) {
    if (lag < 0) {
      lags.remove(updater);
    } else {
      lags.put(updater, lag);
    }
  }

  public void partitionPaused() {
    paused.incrementAndGet();
  }

  public void partitionResumed() {
    paused.decrementAndGet();
  }

  public void invalidated() {
    counter(INVALIDATIONS, "").increment();
  }

  public void bindInvalidationConnected(IntSupplier connected) {
    Gauge.builder(INVALIDATION_CONNECTED, connected::getAsInt)
        .description("1 while the invalidation subscription is connected").register(registry);
  }

  public void webhook(String outcome, int events) {
    counter(WEBHOOK, "", "outcome", outcome).increment();
    if (events > 0) {
      counter(WEBHOOK_EVENTS, "").increment(events);
    }
  }

  public MeterRegistry registry() {
    return registry;
  }
}
