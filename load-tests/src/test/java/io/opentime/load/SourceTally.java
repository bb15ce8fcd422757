package io.opentime.load;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts the gateway's {@code X-Opentime-Source} answers (redis, cache, stale, default) per request name, printed at
 * the end of a run: under a Redis stall, how many answers were last good data (stale/cache) and how many defaults.
 */
final class SourceTally {

  private final Map<String, Map<String, LongAdder>> counts = new ConcurrentHashMap<>();

  String count(String request, String source) {
    counts.computeIfAbsent(request, r -> new ConcurrentHashMap<>())
        .computeIfAbsent(source, s -> new LongAdder())
        .increment();
    return source;
  }

  String summary() {
    StringBuilder out = new StringBuilder("X-Opentime-Source of the answers:");
    new TreeMap<>(counts).forEach((request, bySource) -> {
      long total = bySource.values().stream().mapToLong(LongAdder::sum).sum();
      out.append(String.format("%n  %-22s", request));
      new TreeMap<>(bySource).forEach((source, n) ->
          out.append(String.format("  %s=%d (%.1f%%)", source, n.sum(), total == 0 ? 0.0 : 100.0 * n.sum() / total)));
    });
    return out.toString();
  }
}
