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
    this.defaults = render(null);
  }

  public String name() {
    return name;
  }

  public List<BlockConfig.Field> fields() {
    return fields;
  }

  /** The fields this block exposes, from the profile where it has them, else their defaults (null: all defaults). */
  public Map<String, String> fields(Profile profile) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < schemaIndex.length; i++) {
      String v = profile == null ? null : profile.value(schemaIndex[i]);
      out.put(fields.get(i).name(), v == null ? fields.get(i).defaultValue() : v);
    }
    return out;
  }

  /** The body for a profile; null means defaults only. */
  public Buffer renderJson(Profile profile) {
    return profile == null ? defaults : render(profile);
  }

  private Buffer render(Profile profile) {
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    Buffer out = Buffer.buffer(64 + 32 * schemaIndex.length);
    out.appendBytes(OPEN);
    for (int i = 0; i < schemaIndex.length; i++) {
      out.appendBytes(keyPrefix[i]);
      String v = profile == null ? null : profile.value(schemaIndex[i]);
      out.appendBytes(v == null ? defaultValue[i] : enc.quoteAsUTF8(v));
      out.appendByte((byte) '"');
    }
    out.appendBytes(CLOSE);
    return out;
  }
}
