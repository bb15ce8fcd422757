package io.opentime.content;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.opentime.config.BlockConfig;
import io.opentime.profile.Profile;
import io.opentime.profile.ProfileSchema;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled block: its allowlisted fields resolved to profile schema positions, with the JSON around them encoded
 * once. Renders the AMP {@code amp-list} body {@code {"items":[{field: value, ...}]}}; a field the profile lacks,
 * or every field when there is no profile, takes the block's default. Thread-safe and allocation-light.
 */
public final class Block {

  private static final byte[] OPEN = "{\"items\":[{".getBytes(StandardCharsets.UTF_8);
  private static final byte[] CLOSE = "}]}".getBytes(StandardCharsets.UTF_8);

  private final String name;
  private final int[] schemaIndex;
  private final byte[][] keyPrefix; // ,"name":"  (no comma for the first)
  private final byte[][] defaultValue; // JSON-escaped UTF-8
  private final List<BlockConfig.Field> fields;
  private final List<String> variantSegments;
  private final List<Map<String, String>> extras; // index 0: default variant, i + 1: variant i
  private final byte[][] extraJson;
  private final Buffer defaults;

  public Block(BlockConfig config, ProfileSchema schema) {
    this.name = config.name();
    this.fields = config.fields();
    int n = fields.size();
    this.schemaIndex = new int[n];
    this.keyPrefix = new byte[n][];
    this.defaultValue = new byte[n][];
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    for (int i = 0; i < n; i++) {
      BlockConfig.Field f = fields.get(i);
      schemaIndex[i] = schema.indexOf(f.name());
      if (schemaIndex[i] < 0) {
        throw new IllegalArgumentException("block " + name + ": field " + f.name() + " is not in the profile schema");
      }
      keyPrefix[i] = ((i == 0 ? "\"" : ",\"") + new String(enc.quoteAsString(f.name())) + "\":\"")
          .getBytes(StandardCharsets.UTF_8);
      defaultValue[i] = enc.quoteAsUTF8(f.defaultValue());
    }
    this.variantSegments = config.variants().stream().map(BlockConfig.Variant::segment).toList();
    List<Map<String, String>> ex = new java.util.ArrayList<>();
    ex.add(extra(config.variants().isEmpty() ? null : "default", config.values()));
    config.variants().forEach(v -> ex.add(extra(v.segment(), v.values())));
    this.extras = List.copyOf(ex);
    this.extraJson = new byte[extras.size()][];
    for (int i = 0; i < extras.size(); i++) {
      StringBuilder json = new StringBuilder();
      extras.get(i).forEach((k, v) -> json.append(",\"").append(enc.quoteAsString(k)).append("\":\"")
          .append(enc.quoteAsString(v)).append('"'));
      extraJson[i] = json.toString().getBytes(StandardCharsets.UTF_8);
    }
    this.defaults = render(null, -1);
  }

  /** The static values of a variant, with its name under "variant" when the block has variants. */
  private static Map<String, String> extra(String variant, Map<String, String> values) {
    Map<String, String> m = new LinkedHashMap<>();
    if (variant != null) {
      m.put("variant", variant);
    }
    m.putAll(values);
    return java.util.Collections.unmodifiableMap(m);
  }

  /** The segments of the block's variants, in the order they are tried. */
  public List<String> variantSegments() {
    return variantSegments;
  }

  public String name() {
    return name;
  }

  public List<BlockConfig.Field> fields() {
    return fields;
  }

  /**
   * What a template sees: the fields this block exposes (from the profile where it has them, else their defaults;
   * null profile: all defaults), then the variant's static values. {@code variant} -1 is the default variant.
   */
  public Map<String, String> fields(Profile profile, int variant) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < schemaIndex.length; i++) {
      String v = profile == null ? null : profile.value(schemaIndex[i]);
      out.put(fields.get(i).name(), v == null ? fields.get(i).defaultValue() : v);
    }
    out.putAll(extras.get(variant + 1));
    return out;
  }

  /** The AMP body for a profile (null: defaults only) and variant (-1: the default variant). */
  public Buffer renderJson(Profile profile, int variant) {
    return profile == null && variant < 0 ? defaults : render(profile, variant);
  }

  /** The AMP body of the default variant. */
  public Buffer renderJson(Profile profile) {
    return renderJson(profile, -1);
  }

  private Buffer render(Profile profile, int variant) {
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    Buffer out = Buffer.buffer(64 + 32 * schemaIndex.length);
    out.appendBytes(OPEN);
    for (int i = 0; i < schemaIndex.length; i++) {
      out.appendBytes(keyPrefix[i]);
      String v = profile == null ? null : profile.value(schemaIndex[i]);
      out.appendBytes(v == null ? defaultValue[i] : enc.quoteAsUTF8(v));
      out.appendByte((byte) '"');
    }
    out.appendBytes(extraJson[variant + 1]);
    out.appendBytes(CLOSE);
    return out;
  }
}
