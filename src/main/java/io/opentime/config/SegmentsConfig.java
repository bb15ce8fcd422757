package io.opentime.config;

import java.util.List;
import java.util.Map;

/**
 * Segments: named CEL rules over a reader's profile, and the profile fields the rules may read. Those fields are
 * read from Redis for the rules only: a block still exposes nothing but its own allowlist.
 */
public record SegmentsConfig(List<String> fields, Map<String, String> rules) {
  public SegmentsConfig {
    fields = List.copyOf(fields);
    rules = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(rules));
  }

  public static final SegmentsConfig NONE = new SegmentsConfig(List.of(), Map.of());
}
