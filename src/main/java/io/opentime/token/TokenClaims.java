package io.opentime.token;

/**
 * What a verified token says: the reader's opaque id, the campaign it was minted for (may be null), and when it
 * stops being valid (epoch seconds).
 */
public record TokenClaims(String uid, String campaign, long expiresAt) {

  public static final int MAX_ID_LENGTH = 128;

  public TokenClaims {
    requireId("uid", uid);
    if (uid.indexOf('@') >= 0) {
      throw new IllegalArgumentException("uid looks like an email address: tokens carry an opaque reader id, never PII");
    }
    if (campaign != null) {
      requireId("campaign", campaign);
    }
  }

  private static void requireId(String what, String value) {
    if (value == null || value.isEmpty() || value.length() > MAX_ID_LENGTH) {
      throw new IllegalArgumentException(what + " must be 1-" + MAX_ID_LENGTH + " characters");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
        throw new IllegalArgumentException(what + " must not contain spaces or control characters");
      }
    }
  }
}
