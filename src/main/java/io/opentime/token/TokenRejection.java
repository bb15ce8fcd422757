package io.opentime.token;

/** Why a token was not accepted. The {@link #tag()} is what metrics and logs use. */
public enum TokenRejection {
  MISSING("missing"),
  MALFORMED("malformed"),
  UNSUPPORTED_VERSION("unsupported_version"),
  UNKNOWN_KEY("unknown_key"),
  BAD_SIGNATURE("bad_signature"),
  EXPIRED("expired");

  private final String tag;

  TokenRejection(String tag) {
    this.tag = tag;
  }

  public String tag() {
    return tag;
  }
}
