package io.opentime.ops;

import com.github.benmanes.caffeine.cache.Cache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.opentime.profile.ProfileMeters;
import io.opentime.profile.ProfileStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentime.profile.FallbackReason;
import io.opentime.profile.Source;
import io.opentime.token.TokenRejection;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Every metric name and tag in one place. Meters are created up front for the known routes, blocks, sources and
 * reasons, so the request path only indexes arrays: no registry lookup, no tag built from request data (never a
 * uid or a raw path).
 */
public final class GatewayMetrics implements ProfileMeters {

  public static final String ANSWERS = "opentime.answers";
  public static final String FALLBACKS = "opentime.fallbacks";
  public static final String TOKENS_REJECTED = "opentime.tokens.rejected";
  public static final String CORS_REJECTED = "opentime.amp.cors.rejected";
  public static final String REQUESTS = "opentime.http.requests";
  public static final String BREAKER_STATE = "opentime.redis.breaker.state";
  public static final String REDIS_CONNECTED = "opentime.redis.connected";
  public static final String CACHE_NAME = "profiles";
  public static final String REDIS_READS = "opentime.redis.reads";
  public static final String COALESCED = "opentime.cache.coalesced";
  public static final String LOOP_STALLS = "opentime.redis.loop.stalls";
  public static final String SEGMENT_ERRORS = "opentime.segments.errors";
  /** Latency buckets every answer is counted in, so a dashboard can show the share answered within each. */
  static final Duration[] SLO_BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10),
      Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100)};

  private final Map<String, Counter[]> answers = new HashMap<>(); // "route/block" -> by Source ordinal
  private final Counter[] fallbacks;
  private final Counter[] tokensRejected;
  private final Map<String, Counter> corsRejected = new HashMap<>();
  private final Map<String, Timer> requests = new HashMap<>();
  private final Timer[] redisReads; // index 0: ok, then by FallbackReason ordinal + 1
  private final Counter coalesced;
  private final Counter loopStalls;
  private final Map<String, Counter> segmentErrors = new HashMap<>();
  private final MeterRegistry registry;
  private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

  public GatewayMetrics(MeterRegistry registry, Set<String> routes, Set<String> blocks, Set<String> segments) {
    this.registry = registry;
    for (String route : routes) {
      for (String block : blocks) {
        Counter[] bySource = new Counter[Source.values().length];
        for (Source s : Source.values()) {
          bySource[s.ordinal()] = Counter.builder(ANSWERS)
              .description("Answers given, by route, block and where the data came from")
              .tag("route", route).tag("block", block).tag("source", s.tag())
              .register(registry);
        }
        answers.put(route + "/" + block, bySource);
      }
      requests.put(route, Timer.builder(REQUESTS)
          .description("Time from request to answer written, by route")
          .tag("route", route)
          .serviceLevelObjectives(SLO_BUCKETS)
          .register(registry));
      corsRejected.put(route, Counter.builder(CORS_REJECTED)
          .description("AMP requests refused (403) because no allowed sender was presented")
          .tag("route", route).register(registry));
    }
    redisReads = new Timer[FallbackReason.values().length + 1];
    redisReads[0] = redisTimer(registry, "ok");
    for (FallbackReason r : FallbackReason.values()) {
      redisReads[r.ordinal() + 1] = redisTimer(registry, r.tag());
    }
    for (String segment : segments) {
      segmentErrors.put(segment, Counter.builder(SEGMENT_ERRORS)
          .description("Segment rules that failed for a profile (the default variant was answered)")
          .tag("segment", segment).register(registry));
    }
    coalesced = Counter.builder(COALESCED)
        .description("Opens that joined a Redis read already in flight for the same reader")
        .register(registry);
    loopStalls = Counter.builder(LOOP_STALLS)
        .description("Redis reads in flight while the gateway's own event loop stalled (GC pause, CPU starvation) "
            + "that then missed their deadline; answered with defaults, not counted against Redis")
        .register(registry);
    fallbacks = new Counter[FallbackReason.values().length];
    for (FallbackReason r : FallbackReason.values()) {
      fallbacks[r.ordinal()] = Counter.builder(FALLBACKS)
          .description("Answers that fell back to block defaults, by reason")
          .tag("reason", r.tag()).register(registry);
    }
    tokensRejected = new Counter[TokenRejection.values().length];
    for (TokenRejection r : TokenRejection.values()) {
      tokensRejected[r.ordinal()] = Counter.builder(TOKENS_REJECTED)
          .description("Tokens refused, by reason")
          .tag("reason", r.tag()).register(registry);
    }
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The answer counters of one route and block, indexed by {@link Source#ordinal()}; fetch once, keep. */
  public Counter[] answerCounters(String route, String block) {
    Counter[] bySource = answers.get(route + "/" + block);
    if (bySource == null) {
      throw new IllegalArgumentException("no meters for route " + route + " and block " + block);
    }
    return bySource;
  }

  /** Counts one answer; for a default answer also counts the fallback reason. */
  public void answered(Counter[] bySource, Source source, FallbackReason reason) {
    bySource[source.ordinal()].increment();
    if (reason != null) {
      fallbacks[reason.ordinal()].increment();
    }
  }

  private static Timer redisTimer(MeterRegistry registry, String outcome) {
    return Timer.builder(REDIS_READS)
        .description("Profile reads from Redis (HMGET), by outcome: ok, timeout, error, breaker_open, not_connected")
        .tag("command", "hmget")
        .tag("outcome", outcome)
        .serviceLevelObjectives(SLO_BUCKETS)
        .register(registry);
  }

  @Override
  public void redisRead(long nanos, FallbackReason failure) {
    redisReads[failure == null ? 0 : failure.ordinal() + 1].record(nanos, TimeUnit.NANOSECONDS);
  }

  /** A segment rule failed for one profile. */
  public void segmentFailed(String segment) {
    Counter c = segmentErrors.get(segment);
    if (c != null) {
      c.increment();
    }
  }

  @Override
  public void coalesced() {
    coalesced.increment();
  }

  @Override
  public void loopStalled() {
    loopStalls.increment();
  }

  /** The latency timer of a route; fetch once, keep. */
  public Timer requestTimer(String route) {
    Timer t = requests.get(route);
    if (t == null) {
      throw new IllegalArgumentException("no timer for route " + route);
    }
    return t;
  }

  /**
   * Binds what is not a per-request meter: the profile cache's Caffeine statistics, the Redis breaker and
   * connection state, and the JVM and process meters.
   */
  public void bind(Cache<?, ?> profiles, ProfileStore store) {
    CaffeineCacheMetrics.monitor(registry, profiles, CACHE_NAME);
    Gauge.builder(BREAKER_STATE, store, s -> switch (s.breakerState()) {
          case CLOSED -> 0;
          case HALF_OPEN -> 1;
          case OPEN -> 2;
        })
        .description("Redis circuit breaker: 0 closed, 1 half-open (probing), 2 open (Redis not asked)")
        .register(registry);
    Gauge.builder(REDIS_CONNECTED, store, s -> s.connected() ? 1 : 0)
        .description("1 while at least one event loop holds a Redis connection")
        .register(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gcMetrics.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** Stops the GC notification listener bound by {@link #bind}. */
  public void close() {
    gcMetrics.close();
  }

  public void tokenRejected(TokenRejection why) {
    tokensRejected[why.ordinal()].increment();
  }

  public void corsRejected(String route) {
    Counter c = corsRejected.get(route);
    if (c != null) {
      c.increment();
    }
  }
}
