package io.opentime.token;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The ordered key ring: the first key signs new tokens, every key verifies. Rotate by putting a new key first
 * and keeping the old one until the tokens it signed have expired.
 */
public record TokenKeys(List<TokenKey> keys) {

  public TokenKeys {
    keys = List.copyOf(keys);
    Set<String> seen = new HashSet<>();
    for (TokenKey k : keys) {
      if (!seen.add(k.kid())) {
        throw new IllegalArgumentException("key id '" + k.kid() + "' appears twice");
      }
    }
  }

  /** Parses {@code kid:base64secret,kid2:base64secret2}; blank means no keys. */
  public static TokenKeys parse(String commaList) {
    List<TokenKey> keys = new ArrayList<>();
    if (commaList != null) {
      for (String part : commaList.split(",")) {
        if (!part.isBlank()) {
          keys.add(TokenKey.parse(part));
        }
      }
    }
    return new TokenKeys(keys);
  }

  public boolean isEmpty() {
    return keys.isEmpty();
  }

  public TokenKey signing() {
    if (keys.isEmpty()) {
      throw new IllegalStateException("no token keys configured");
    }
    return keys.get(0);
  }
}
