package io.opentime.profile;

/**
 * A reader's profile as read from Redis: the values of the {@link ProfileSchema} fields, in schema order (null where
 * the hash lacks the field), and when it was read, in {@link com.github.benmanes.caffeine.cache.Ticker} nanoseconds.
 * Immutable; a profile that does not exist in Redis is cached as one with no values, so unknown readers do not
 * reach Redis on every open.
 */
public final class Profile {

  private final String[] values;
  private final long loadedAtNanos;

  public Profile(String[] values, long loadedAtNanos) {
    this.values = values;
    this.loadedAtNanos = loadedAtNanos;
  }

  /** The field at a schema index, or null if the profile lacks it. */
  public String value(int schemaIndex) {
    return schemaIndex < 0 || schemaIndex >= values.length ? null : values[schemaIndex];
  }

  public boolean isEmpty() {
    for (String v : values) {
      if (v != null) {
        return false;
      }
    }
    return true;
  }

  public long loadedAtNanos() {
    return loadedAtNanos;
  }
}
