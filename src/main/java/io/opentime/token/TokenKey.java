package io.opentime.token;

import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * One HMAC-SHA256 signing key with its key id. {@link #toString()} never shows the secret.
 */
public record TokenKey(String kid, byte[] secret) {

  /** Shortest accepted secret: 256 bits, the HMAC-SHA256 block-size-independent recommendation. */
  public static final int MIN_SECRET_BYTES = 32;
  private static final Pattern KID = Pattern.compile("[A-Za-z0-9_-]{1,32}");

  public TokenKey {
    if (kid == null || !KID.matcher(kid).matches()) {
      throw new IllegalArgumentException("key id must be 1-32 characters of A-Z a-z 0-9 _ - (got '" + kid + "')");
    }
    if (secret == null || secret.length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException("key '" + kid + "': secret must be at least " + MIN_SECRET_BYTES
          + " bytes (got " + (secret == null ? 0 : secret.length) + ")");
    }
    secret = secret.clone();
  }

  @Override
  public byte[] secret() {
    return secret.clone();
  }

  /**
   * Parses {@code kid:base64secret}; the secret may be standard or URL-safe Base64, padded or not.
   *
   * @throws IllegalArgumentException naming the key id (never the secret) when malformed
   */
  public static TokenKey parse(String spec) {
    String s = spec == null ? "" : spec.trim();
    int colon = s.indexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException("a key must look like kid:base64secret");
    }
    String kid = s.substring(0, colon);
    String b64 = s.substring(colon + 1).replace('-', '+').replace('_', '/');
    byte[] secret;
    try {
      secret = Base64.getDecoder().decode(b64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("key '" + kid + "': secret is not valid Base64");
    }
    return new TokenKey(kid, secret);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenKey k && k.kid.equals(kid) && Arrays.equals(k.secret, secret);
  }

  @Override
  public int hashCode() {
    return kid.hashCode();
  }

  @Override
  public String toString() {
    return "TokenKey[kid=" + kid + ", secret=<redacted>]";
  }
}
