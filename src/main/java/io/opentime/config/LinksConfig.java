package io.opentime.config;

import java.util.Map;

/**
 * Click targets. A click token names a link id, never a URL; the target comes from {@code targets}, else from the
 * Redis hash {@code redisHash} (field: link id, value: URL).
 *
 * @param fallbackUrl where a click goes when its link cannot be looked up (Redis down); empty: answer 503
 */
public record LinksConfig(Map<String, String> targets, String redisHash, String fallbackUrl) {

  public LinksConfig {
    targets = Map.copyOf(targets);
  }
}
