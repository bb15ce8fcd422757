package io.opentime.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentime.profile.FallbackReason;
import io.opentime.profile.Source;
import io.opentime.token.TokenRejection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Every metric name and tag in one place. Meters are created up front for the known routes, blocks, sources and
 * reasons, so the request path only indexes arrays: no registry lookup, no tag built from request data (never a
 * uid or a raw path).
 */
public final class GatewayMetrics {

  public static final String ANSWERS = "opentime.answers";
  public static final String FALLBACKS = "opentime.fallbacks";
  public static final String TOKENS_REJECTED = "opentime.tokens.rejected";
  public static final String CORS_REJECTED = "opentime.amp.cors.rejected";

  private final Map<String, Counter[]> answers = new HashMap<>(); // "route/block" -> by Source ordinal
  private final Counter[] fallbacks;
  private final Counter[] tokensRejected;
  private final Map<String, Counter> corsRejected = new HashMap<>();
  private final MeterRegistry registry;

  public GatewayMetrics(MeterRegistry registry, Set<String> routes, Set<String> blocks) {
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
      corsRejected.put(route, Counter.builder(CORS_REJECTED)
          .description("AMP requests refused (403) because no allowed sender was presented")
          .tag("route", route).register(registry));
    }
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
