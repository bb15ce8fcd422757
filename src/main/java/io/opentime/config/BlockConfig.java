package io.opentime.config;

import java.util.List;

/**
 * A block: the profile fields it may expose (its allowlist, in output order) and each field's default, and
 * optionally the mustache template (a file in the templates folder) that renders it as an HTML fragment. No other
 * profile field ever leaves the gateway through this block.
 */
public record BlockConfig(String name, List<Field> fields, String template) {

  public BlockConfig {
    fields = List.copyOf(fields);
  }

  public BlockConfig(String name, List<Field> fields) {
    this(name, fields, null);
  }

  /** One exposed profile field and the value used when the profile lacks it or cannot be read. */
  public record Field(String name, String defaultValue) {
  }
}
