package io.opentime.token;

/**
 * What a verified token says: the reader's opaque id, the campaign it was minted for (may be null), when it stops
 * being valid (epoch seconds) and, for a click token, the id of the link it opens (may be null; an id, never a URL).
 */
public record TokenClaims(String uid, String campaign, long expiresAt, String link) {

  public static final int MAX_ID_LENGTH = 128;

  public TokenClaims(String uid, String campaign, long expiresAt) {
    this(uid, campaign, expiresAt, null);
  }

  public TokenClaims {
    requireId("uid", uid);
    if (uid.indexOf('@') >= 0) {
      throw new IllegalArgumentException("uid looks like an email address: tokens carry an opaque reader id, never PII");
    }
    if (campaign != null) {
      requireId("campaign", campaign);
    }
    if (link != null) {
      requireId("link", link);
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
