package io.opentime.content;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.opentime.config.BlockConfig;
import io.opentime.profile.Profile;
import io.opentime.profile.ProfileLookup;
import io.opentime.profile.ProfileSchema;
import io.opentime.profile.Source;
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
  private final int[] segmentVariant; // variant index of each entry of variantSegments
  private final int staleVariant;
  private final int defaultedVariant;
  private final int recommend;
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
    List<String> segs = new java.util.ArrayList<>();
    List<Integer> segIdx = new java.util.ArrayList<>();
    int stale = -1;
    int defaulted = -1;
    for (int i = 0; i < config.variants().size(); i++) {
      BlockConfig.Variant v = config.variants().get(i);
      if (v.segment() != null) {
        segs.add(v.segment());
        segIdx.add(i);
      } else if ("stale".equals(v.data())) {
        stale = i;
      } else {
        defaulted = i;
      }
    }
    this.variantSegments = List.copyOf(segs);
    this.segmentVariant = segIdx.stream().mapToInt(Integer::intValue).toArray();
    this.staleVariant = stale;
    this.recommend = config.recommend();
    this.defaultedVariant = defaulted;
    List<Map<String, String>> ex = new java.util.ArrayList<>();
    ex.add(extra(config.variants().isEmpty() ? null : "default", config.values()));
    config.variants().forEach(v -> ex.add(extra(v.name(), v.values())));
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

  /** The segments of the block's segment variants, in the order they are tried. */
  public List<String> variantSegments() {
    return variantSegments;
  }

  /**
   * The variant for an answer (-1: the default variant): the {@code defaulted} variant when no profile data is
   * used, the {@code stale} variant for stale data, else the first segment variant the reader is in.
   */
  public int variantFor(ProfileLookup lookup, Segments segments, ProfileSchema schema) {
    if (lookup.profile() == null) {
      return defaultedVariant;
    }
    if (lookup.source() == Source.STALE && staleVariant >= 0) {
      return staleVariant;
    }
    if (variantSegments.isEmpty()) {
      return -1;
    }
    int i = segments.select(variantSegments, lookup.profile(), schema);
    return i < 0 ? -1 : segmentVariant[i];
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

  /** The AMP body of a recommendations block: one item per product (id, name, price, image, link). */
  public static Buffer renderProducts(List<Product> products) {
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    StringBuilder json = new StringBuilder(64 + 160 * products.size()).append("{\"items\":[");
    for (int i = 0; i < products.size(); i++) {
      Product p = products.get(i);
      json.append(i == 0 ? "{" : ",{")
          .append("\"id\":\"").append(enc.quoteAsString(p.id()))
          .append("\",\"name\":\"").append(enc.quoteAsString(p.name()))
          .append("\",\"price\":\"").append(enc.quoteAsString(p.price()))
          .append("\",\"image\":\"").append(enc.quoteAsString(p.image()))
          .append("\",\"link\":\"").append(enc.quoteAsString(p.link())).append("\"}");
    }
    return Buffer.buffer(json.append("]}").toString());
  }

  /** The number of products a recommendations block shows; 0 for a block of profile fields. */
  public int recommend() {
    return recommend;
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
