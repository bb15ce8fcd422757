package io.opentime.token;

/**
 * Remembers tokens that verified, so a token seen again (the same email opened again, its amp-list and its pixel,
 * a proxy retry) costs a hash and a string comparison instead of an HMAC and a JSON parse. Only valid tokens are
 * stored, and a hit needs the whole token string to be equal, so a forged or altered token can never hit; expiry is
 * re-checked on every hit.
 *
 * <p>A direct-mapped table, not a cache library: each token has exactly one slot (by its hash), and a token verified
 * later into an occupied slot simply replaces the one there, which is verified afresh when it comes back. There is no
 * eviction policy, clock or bookkeeping to pay for: a lookup is one array read, an insert one array write. Profiling
 * the cold path (a million readers, most tokens seen once) showed a Caffeine cache here spending more on inserting
 * and evicting those one-time tokens than verifying them cost, and about a microsecond per hit on the warm path.
 *
 * <p>Thread-safe without locks: slots hold immutable entries (final fields only), so a reader on any thread sees
 * either no entry, an older one or a newer one, each complete; a lost race costs one more verification.
 */
public final class VerifiedTokens {

  private record Entry(String token, TokenVerification verification) {
  }

  private final TokenCodec codec;
  private final Entry[] slots;
  private final int mask;

  /**
   * @param slots table size, rounded up to a power of two (at least 1); about the number of distinct tokens that
   *              stay remembered at once
   */
  public VerifiedTokens(TokenCodec codec, int slots) {
    if (slots < 1 || slots > (1 << 30)) {
      throw new IllegalArgumentException("slots must be in 1..2^30, not " + slots);
    }
    int size = Integer.highestOneBit(slots);
    if (size < slots) {
      size <<= 1;
    }
    this.codec = codec;
    this.slots = new Entry[size];
    this.mask = size - 1;
  }

  /** As {@link TokenCodec#verify}, answered from memory for a token verified before. */
  public TokenVerification verify(String token) {
    if (token == null) {
      return codec.verify(null);
    }
    int slot = slot(token);
    Entry known = slots[slot];
    if (known != null && known.token.equals(token)) {
      return codec.nowEpochSecond() < known.verification.claims().expiresAt()
          ? known.verification
          : TokenVerification.rejected(TokenRejection.EXPIRED);
    }
    TokenVerification v = codec.verify(token);
    if (v.valid()) {
      slots[slot] = new Entry(token, v);
    }
    return v;
  }

  /** True if this exact token is remembered now (for tests). */
  boolean remembers(String token) {
    Entry e = slots[slot(token)];
    return e != null && e.token.equals(token);
  }

  private int slot(String token) {
    int h = token.hashCode();
    return (h ^ (h >>> 16)) & mask;
  }
}
