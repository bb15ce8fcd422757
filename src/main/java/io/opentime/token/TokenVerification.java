package io.opentime.token;

/**
 * The outcome of {@link TokenCodec#verify}: exactly one of {@link #claims()} and {@link #rejection()} is non-null.
 * A result object rather than an exception, because forged tokens are an expected, frequent input.
 */
public record TokenVerification(TokenClaims claims, TokenRejection rejection) {

  static TokenVerification ok(TokenClaims claims) {
    return new TokenVerification(claims, null);
  }

  static TokenVerification rejected(TokenRejection why) {
    return REJECTIONS[why.ordinal()];
  }

  private static final TokenVerification[] REJECTIONS;

  static {
    TokenRejection[] all = TokenRejection.values();
    REJECTIONS = new TokenVerification[all.length];
    for (TokenRejection r : all) {
      REJECTIONS[r.ordinal()] = new TokenVerification(null, r);
    }
  }

  public boolean valid() {
    return claims != null;
  }
}
