package io.opentime.content;

import io.opentime.config.BlockConfig;
import io.opentime.profile.ProfileSchema;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every configured block, compiled at start-up. Lookup is by exact name only: a URL segment selects an entry of this
 * fixed map, so no request can name a file or anything not configured.
 */
public final class BlockRegistry {

  private final Map<String, Block> blocks;
  private final ProfileSchema schema;

  public BlockRegistry(Map<String, BlockConfig> configs) {
    this(configs, List.of());
  }

  /** @param segmentFields profile fields the segment rules read, read from Redis though no block exposes them */
  public BlockRegistry(Map<String, BlockConfig> configs, List<String> segmentFields) {
    List<String> fields = new ArrayList<>();
    configs.values().forEach(b -> b.fields().forEach(f -> fields.add(f.name())));
    fields.addAll(segmentFields);
    this.schema = new ProfileSchema(fields);
    Map<String, Block> m = new HashMap<>();
    configs.forEach((name, cfg) -> m.put(name, new Block(cfg, schema)));
    this.blocks = Map.copyOf(m);
  }

  /** The block of that name, or null. */
  public Block get(String name) {
    return name == null ? null : blocks.get(name);
  }

  public Map<String, Block> all() {
    return blocks;
  }

  /** The profile fields any block may show or any segment rule may read: exactly what is read from Redis. */
  public ProfileSchema schema() {
    return schema;
  }
}
