package io.opentime.config;

import java.util.List;
import java.util.Map;

/**
 * A block: the profile fields it may expose (its allowlist, in output order) and each field's default, and
 * optionally the mustache template (a file in the templates folder) that renders it as an HTML fragment, static
 * values (copy a marketer writes) and segment variants. No other
 * profile field ever leaves the gateway through this block.
 */
public record BlockConfig(String name, List<Field> fields, String template, Map<String, String> values,
                          List<Variant> variants, int recommend) {

  public BlockConfig {
    fields = List.copyOf(fields);
    values = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(values));
    variants = List.copyOf(variants);
  }

  public BlockConfig(String name, List<Field> fields, String template) {
    this(name, fields, template, Map.of(), List.of(), 0);
  }

  public BlockConfig(String name, List<Field> fields, String template, Map<String, String> values,
                     List<Variant> variants) {
    this(name, fields, template, values, variants, 0);
  }

  /** True for a recommendations block: it answers {@code recommend} products rather than profile fields. */
  public boolean recommends() {
    return recommend > 0;
  }


  /**
   * A variant: its static values (replacing the block's) and optionally its own template, shown either to readers
   * of a {@code segment} (the first matching segment variant wins) or, with {@code data}, when the answer's profile
   * data is {@code stale} (served from cache past its refresh age) or {@code defaulted} (no profile data could be
   * used). Exactly one of segment and data is set. None applying, the block itself is the default variant.
   */
  public record Variant(String segment, String data, String template, Map<String, String> values) {

    public Variant(String segment, String template, Map<String, String> values) {
      this(segment, null, template, values);
    }

    /** The name the answer carries as "variant". */
    public String name() {
      return segment != null ? segment : data;
    }

    public Variant {
      values = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(values));
    }
  }

  /** One exposed profile field and the value used when the profile lacks it or cannot be read. */
  public record Field(String name, String defaultValue) {
  }
}
