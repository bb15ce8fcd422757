package io.opentime.profile;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * A reader's profile as read from Redis: the values of the {@link ProfileSchema} fields, in schema order (null where
 * the hash lacks the field), and when it was read, in {@link com.github.benmanes.caffeine.cache.Ticker} nanoseconds.
 * Immutable; a profile that does not exist in Redis is cached as one with no values, so unknown readers do not
 * reach Redis on every open.
 *
 * <p>The values are kept packed in one byte array, as Redis sent them (UTF-8), each behind its length (-1: absent),
 * and decoded when read. A cache of a million profiles is a million of these: one array without references, in
 * place of an array of strings each with its own array, takes a profile with four fields set from ten objects to
 * two, and so cuts what the garbage collector copies while the cache fills (the cold path's young pauses).
 */
public final class Profile {

  private static final byte[] NO_VALUES = new byte[0];

  private final byte[] packed;
  private final int fields;
  private final long loadedAtNanos;

  /** A profile of these values (null where absent). */
  public Profile(String[] values, long loadedAtNanos) {
    byte[][] utf8 = new byte[values.length][];
    for (int i = 0; i < values.length; i++) {
      utf8[i] = values[i] == null ? null : values[i].getBytes(StandardCharsets.UTF_8);
    }
    this.packed = pack(utf8);
    this.fields = values.length;
    this.loadedAtNanos = loadedAtNanos;
  }

  private Profile(byte[] packed, int fields, long loadedAtNanos) {
    this.packed = packed;
    this.fields = fields;
    this.loadedAtNanos = loadedAtNanos;
  }

  /**
   * A profile of {@code fields} values taken from Redis bulk replies. A null entry (or a missing one, past the end
   * of {@code values}) is an absent field. The values are copied once, straight from the replies into the packed
   * array.
   */
  static Profile fromBuffers(Buffer[] values, int fields, long loadedAtNanos) {
    int size = 4 * fields;
    for (int i = 0; i < fields && i < values.length; i++) {
      size += values[i] == null ? 0 : values[i].length();
    }
    byte[] out = size == 0 ? NO_VALUES : new byte[size];
    int at = 0;
    for (int i = 0; i < fields; i++) {
      Buffer v = i < values.length ? values[i] : null;
      at = putLength(out, at, v == null ? -1 : v.length());
      if (v != null) {
        v.getBytes(0, v.length(), out, at);
        at += v.length();
      }
    }
    return new Profile(out, fields, loadedAtNanos);
  }

  /** The values (null: absent), each behind its 4-byte length (-1 for an absent one), in one array. */
  private static byte[] pack(byte[][] values) {
    int size = 4 * values.length;
    for (byte[] v : values) {
      size += v == null ? 0 : v.length;
    }
    byte[] out = size == 0 ? NO_VALUES : new byte[size];
    int at = 0;
    for (byte[] v : values) {
      at = putLength(out, at, v == null ? -1 : v.length);
      if (v != null) {
        System.arraycopy(v, 0, out, at, v.length);
        at += v.length;
      }
    }
    return out;
  }

  private static int putLength(byte[] out, int at, int length) {
    out[at] = (byte) (length >>> 24);
    out[at + 1] = (byte) (length >>> 16);
    out[at + 2] = (byte) (length >>> 8);
    out[at + 3] = (byte) length;
    return at + 4;
  }

  private static int getLength(byte[] in, int at) {
    return (in[at] << 24) | ((in[at + 1] & 0xff) << 16) | ((in[at + 2] & 0xff) << 8) | (in[at + 3] & 0xff);
  }

  /** The field at a schema index, or null if the profile lacks it. */
  public String value(int schemaIndex) {
    if (schemaIndex < 0 || schemaIndex >= fields) {
      return null;
    }
    int at = 0;
    for (int i = 0; i < schemaIndex; i++) {
      int length = getLength(packed, at);
      at += 4 + Math.max(length, 0);
    }
    int length = getLength(packed, at);
    return length < 0 ? null : new String(packed, at + 4, length, StandardCharsets.UTF_8);
  }

  public boolean isEmpty() {
    int at = 0;
    for (int i = 0; i < fields; i++) {
      int length = getLength(packed, at);
      if (length >= 0) {
        return false;
      }
      at += 4;
    }
    return true;
  }

  public long loadedAtNanos() {
    return loadedAtNanos;
  }
}
