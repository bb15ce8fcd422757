package io.opentime.config;

import io.opentime.token.TokenKeys;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/** The whole validated configuration. Immutable; built once by {@link ConfigLoader}. */
public record GatewayConfig(HttpConfig http, ManagementConfig management, RedisConfig redis, TokenKeys tokenKeys,
                            AmpConfig amp, CacheConfig cache, SegmentsConfig segments,
                            RecommendationsConfig recommendations,
                            Map<String, BlockConfig> blocks, EventsConfig events, Set<String> fromEnvironment,
                            Path templatesDir) {

  public GatewayConfig {
    blocks = Map.copyOf(blocks);
    fromEnvironment = Set.copyOf(fromEnvironment);
  }

  /** True when the dotted key (e.g. {@code redis.url}) was set by an environment variable. */
  public boolean setByEnvironment(String key) {
    return fromEnvironment.contains(key);
  }

  public GatewayConfig withTokenKeys(TokenKeys keys) {
    return new GatewayConfig(http, management, redis, keys, amp, cache, segments, recommendations, blocks, events, fromEnvironment, templatesDir);
  }


  /** Fragment templates are read from this directory; null means the copies built into the jar. */
  public GatewayConfig withTemplatesDir(Path dir) {
    return new GatewayConfig(http, management, redis, tokenKeys, amp, cache, segments, recommendations, blocks, events, fromEnvironment, dir);
  }

  public GatewayConfig withBlocks(Map<String, BlockConfig> b) {
    return new GatewayConfig(http, management, redis, tokenKeys, amp, cache, segments, recommendations, b, events,
        fromEnvironment, templatesDir);
  }


  public GatewayConfig withRedis(RedisConfig r) {
    return new GatewayConfig(http, management, r, tokenKeys, amp, cache, segments, recommendations, blocks, events, fromEnvironment, templatesDir);
  }

  public GatewayConfig withEvents(EventsConfig e) {
    return new GatewayConfig(http, management, redis, tokenKeys, amp, cache, segments, recommendations, blocks, e,
        fromEnvironment, templatesDir);
  }

  public GatewayConfig withAmp(AmpConfig a) {
    return new GatewayConfig(http, management, redis, tokenKeys, a, cache, segments, recommendations, blocks, events, fromEnvironment, templatesDir);
  }

}
