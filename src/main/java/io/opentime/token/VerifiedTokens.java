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
 * <p>A token is remembered the second time it verifies, not the first: its first verification only notes its hash
 * in a plain {@code int} array. Most tokens of a large send are seen once (or once per open, minutes apart), and a
 * remembered token is about 300 bytes of objects linked from this table, which lives in the old generation: each one
 * survived young collections, was copied and promoted, then died there when its slot was reused. Noting a hash
 * allocates nothing and gives the collector nothing to trace; a token seen again (an email's amp-list and its
 * reopens, a proxy's retry) pays one more verification, then hits.
 *
 * <p>Thread-safe without locks: slots hold immutable entries (final fields only), so a reader on any thread sees
 * either no entry, an older one or a newer one, each complete; a lost race costs one more verification. A hash
 * noted by one token and matched by another (a collision) only makes that other token remembered one verification
 * early: a hit still needs the whole token string to be equal.
 */
public final class VerifiedTokens {

  private record Entry(String token, TokenVerification verification) {
  }

  private final TokenCodec codec;
  private final Entry[] slots;
  /** Per slot, the hash of the last token verified into it but not remembered (0: none). */
  private final int[] seen;
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
    this.seen = new int[size];
    this.mask = size - 1;
  }

  /** As {@link TokenCodec#verify}, answered from memory for a token verified before. */
  public TokenVerification verify(String token) {
    if (token == null) {
      return codec.verify(null);
    }
    int hash = token.hashCode();
    int slot = slot(hash);
    Entry known = slots[slot];
    if (known != null && known.token.equals(token)) {
      return codec.nowEpochSecond() < known.verification.claims().expiresAt()
          ? known.verification
          : TokenVerification.rejected(TokenRejection.EXPIRED);
    }
    TokenVerification v = codec.verify(token);
    if (v.valid()) {
      int mark = hash == 0 ? 1 : hash; // 0 means "none"
      if (seen[slot] == mark) {
        slots[slot] = new Entry(token, v);
      } else {
        seen[slot] = mark;
      }
    }
    return v;
  }

  /** True if this exact token is remembered now (for tests). */
  boolean remembers(String token) {
    Entry e = slots[slot(token.hashCode())];
    return e != null && e.token.equals(token);
  }

  private int slot(int h) {
    return (h ^ (h >>> 16)) & mask;
  }
}
