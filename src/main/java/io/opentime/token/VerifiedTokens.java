package io.opentime.token;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;

/**
 * Remembers tokens that verified, so a token seen again (the same email opened again, its amp-list and its pixel,
 * a proxy retry) costs a map lookup instead of an HMAC and a JSON parse. Only valid tokens are stored, keyed by the
 * whole token string, so a forged or altered token can never hit; expiry is re-checked on every hit.
 */
public final class VerifiedTokens {

  private final TokenCodec codec;
  private final Cache<String, TokenVerification> verified;

  public VerifiedTokens(TokenCodec codec, long maxEntries) {
    this.codec = codec;
    this.verified = Caffeine.newBuilder()
        .maximumSize(maxEntries)
        .expireAfterWrite(Duration.ofMinutes(10))
        .executor(Runnable::run)
        .build();
  }

  /** As {@link TokenCodec#verify}, answered from memory for a token verified before. */
  public TokenVerification verify(String token) {
    if (token != null) {
      TokenVerification known = verified.getIfPresent(token);
      if (known != null) {
        return codec.nowEpochSecond() < known.claims().expiresAt()
            ? known
            : TokenVerification.rejected(TokenRejection.EXPIRED);
      }
    }
    TokenVerification v = codec.verify(token);
    if (v.valid()) {
      verified.put(token, v);
    }
    return v;
  }
}
