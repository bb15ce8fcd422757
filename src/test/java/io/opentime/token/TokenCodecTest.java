package io.opentime.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenCodecTest {

  static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final TokenKey K1 = key("k1", 1);
  static final TokenKey K2 = key("k2", 2);
  static final long IN_A_DAY = NOW.getEpochSecond() + 86_400;

  static TokenKey key(String kid, int fill) {
    byte[] secret = new byte[32];
    java.util.Arrays.fill(secret, (byte) fill);
    return new TokenKey(kid, secret);
  }

  static TokenCodec codec(TokenKey... keys) {
    return new TokenCodec(new TokenKeys(List.of(keys)), CLOCK);
  }

  @Test
  @DisplayName("a minted token verifies and carries uid, campaign and expiry")
  void roundTrip() {
    TokenCodec c = codec(K1);
    String token = c.mint(new TokenClaims("r-42", "spring", IN_A_DAY));
    TokenVerification v = c.verify(token);
    assertThat(v.valid()).isTrue();
    assertThat(v.claims()).isEqualTo(new TokenClaims("r-42", "spring", IN_A_DAY));
    assertThat(token).startsWith("v1.k1.").matches("[A-Za-z0-9._-]+");
  }

  @Test
  @DisplayName("a token without campaign round-trips with a null campaign")
  void noCampaign() {
    TokenCodec c = codec(K1);
    assertThat(c.verify(c.mint(new TokenClaims("r-42", null, IN_A_DAY))).claims().campaign()).isNull();
  }

  @Test
  @DisplayName("the payload holds no email address and the tag is the full 256-bit MAC")
  void noPiiAndFullTag() {
    String token = codec(K1).mint(new TokenClaims("r-42", "spring", IN_A_DAY));
    String[] parts = token.split("\\.");
    assertThat(parts).hasSize(4);
    assertThat(Base64.getUrlDecoder().decode(parts[3])).hasSize(32);
    assertThatThrownBy(() -> new TokenClaims("ada@example.com", null, IN_A_DAY))
        .hasMessageContaining("email address");
  }

  @Test
  @DisplayName("changing any single character of the token is rejected (the tag has one canonical spelling)")
  void tamperAnyCharacter() {
    TokenCodec c = codec(K1);
    String token = c.mint(new TokenClaims("r-42", "spring", IN_A_DAY));
    for (int i = 0; i < token.length(); i++) {
      char ch = token.charAt(i);
      if (ch == '.') {
        continue;
      }
      char other = ch == 'A' ? 'B' : 'A';
      String tampered = token.substring(0, i) + other + token.substring(i + 1);
      assertThat(c.verify(tampered).valid()).as("tampered at %d", i).isFalse();
    }
  }

  @Test
  @DisplayName("a payload swapped in from another token fails the signature")
  void payloadSwap() {
    TokenCodec c = codec(K1);
    String[] a = c.mint(new TokenClaims("r-1", null, IN_A_DAY)).split("\\.");
    String[] b = c.mint(new TokenClaims("r-2", null, IN_A_DAY)).split("\\.");
    assertThat(c.verify(a[0] + "." + a[1] + "." + b[2] + "." + a[3]).rejection()).isEqualTo(TokenRejection.BAD_SIGNATURE);
  }

  @Test
  @DisplayName("an expired token is rejected as expired, from its expiry second on")
  void expiry() {
    TokenCodec c = codec(K1);
    assertThat(c.verify(c.mint(new TokenClaims("r-1", null, NOW.getEpochSecond()))).rejection())
        .isEqualTo(TokenRejection.EXPIRED);
    assertThat(c.verify(c.mint(new TokenClaims("r-1", null, NOW.getEpochSecond() + 1))).valid()).isTrue();
  }

  @Test
  @DisplayName("a token signed with a key we do not hold is an unknown key")
  void unknownKid() {
    String foreign = codec(K2).mint(new TokenClaims("r-1", null, IN_A_DAY));
    assertThat(codec(K1).verify(foreign).rejection()).isEqualTo(TokenRejection.UNKNOWN_KEY);
  }

  @Test
  @DisplayName("a token claiming our kid but signed with another secret fails the signature")
  void wrongSecretSameKid() {
    String forged = codec(key("k1", 9)).mint(new TokenClaims("r-1", null, IN_A_DAY));
    assertThat(codec(K1).verify(forged).rejection()).isEqualTo(TokenRejection.BAD_SIGNATURE);
  }

  @Test
  @DisplayName("rotation: the first key signs, old tokens still verify while the old key is listed")
  void rotation() {
    TokenCodec before = codec(K1);
    TokenCodec during = codec(K2, K1);
    TokenCodec after = codec(K2);
    String old = before.mint(new TokenClaims("r-1", null, IN_A_DAY));
    String fresh = during.mint(new TokenClaims("r-1", null, IN_A_DAY));
    assertThat(fresh).startsWith("v1.k2.");
    assertThat(during.verify(old).valid()).isTrue();
    assertThat(during.verify(fresh).valid()).isTrue();
    assertThat(after.verify(old).rejection()).isEqualTo(TokenRejection.UNKNOWN_KEY);
    assertThat(before.verify(fresh).rejection()).isEqualTo(TokenRejection.UNKNOWN_KEY);
  }

  @ParameterizedTest
  @ValueSource(strings = {"x", "v1.k1.abc", "v1.k1.a.b.c", "v1.k1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "v1.k1.e30.short", "v1.k1.e30.AAAA AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "v1.k1.e30.<script>",
      "../../etc/passwd", "v1.k1.e30.%41%41"})
  @DisplayName("malformed tokens are rejected without exceptions")
  void malformed(String token) {
    TokenVerification v = codec(K1).verify(token);
    assertThat(v.valid()).isFalse();
    assertThat(v.rejection()).isIn(TokenRejection.MALFORMED, TokenRejection.BAD_SIGNATURE);
  }

  @Test
  @DisplayName("missing, too long, and other-version tokens are told apart")
  void missingLongVersion() {
    TokenCodec c = codec(K1);
    assertThat(c.verify(null).rejection()).isEqualTo(TokenRejection.MISSING);
    assertThat(c.verify("").rejection()).isEqualTo(TokenRejection.MISSING);
    assertThat(c.verify("A".repeat(2000)).rejection()).isEqualTo(TokenRejection.MALFORMED);
    String v1 = c.mint(new TokenClaims("r-1", null, IN_A_DAY));
    assertThat(c.verify("v2" + v1.substring(2)).rejection()).isEqualTo(TokenRejection.UNSUPPORTED_VERSION);
  }

  @Test
  @DisplayName("an authentic but malformed payload (signed by a leaked key) is rejected, not parsed into claims")
  void authenticButBadPayload() throws Exception {
    for (String json : List.of("[]", "{\"u\":1,\"e\":5}", "{\"u\":\"a\"}", "{\"u\":\"a\",\"u\":\"b\",\"e\":9999999999}",
        "{\"u\":\"a@b.c\",\"e\":9999999999}", "{\"u\":\"a\",\"e\":9999999999} x")) {
      assertThat(codec(K1).verify(signedByK1(json)).rejection()).as(json).isEqualTo(TokenRejection.MALFORMED);
    }
  }

  @Test
  @DisplayName("non-ASCII claims round-trip: the payload's UTF-8 is decoded by the parser itself")
  void nonAsciiRoundTrip() {
    TokenCodec c = codec(K1);
    TokenClaims claims = new TokenClaims("lecteur-\u00e9-\u65e5\u672c-\uD83D\uDCE7", "\u00e9t\u00e9-2026", IN_A_DAY);
    assertThat(c.verify(c.mint(claims)).claims()).isEqualTo(claims);
  }

  @Test
  @DisplayName("an authentic payload with escaped names and unknown nested claims parses to the same claims")
  void escapedNamesAndUnknownClaims() throws Exception {
    TokenCodec c = codec(K1);
    // "\\u0075" is "u" spelled with an escape; "x" is a claim this version does not know and skips
    String json = "{\"\\u0075\":\"r-42\",\"x\":{\"y\":[1,{\"u\":\"other\"}]},\"e\":" + IN_A_DAY + "}";
    assertThat(c.verify(signedByK1(json)).claims()).isEqualTo(new TokenClaims("r-42", null, IN_A_DAY));
    // names learnt from one payload do not leak into the next
    assertThat(c.verify(signedByK1("{\"x\":1,\"u\":\"r-43\",\"e\":" + IN_A_DAY + "}")).claims())
        .isEqualTo(new TokenClaims("r-43", null, IN_A_DAY));
  }

  /** A v1 token for the payload {@code json} as given (not as the minter would write it), signed with K1. */
  private static String signedByK1(String json) throws Exception {
    String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    String input = "v1.k1." + payload;
    javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
    mac.init(new javax.crypto.spec.SecretKeySpec(K1.secret(), "HmacSHA256"));
    return input + "." + Base64.getUrlEncoder().withoutPadding()
        .encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  @DisplayName("keys: short secrets, bad kids and duplicates are refused, and toString hides the secret")
  void keyValidation() {
    assertThatThrownBy(() -> TokenKey.parse("k:" + Base64.getEncoder().encodeToString(new byte[16])))
        .hasMessageContaining("at least 32 bytes");
    assertThatThrownBy(() -> TokenKey.parse("bad kid:" + Base64.getEncoder().encodeToString(new byte[32])))
        .hasMessageContaining("key id");
    assertThatThrownBy(() -> TokenKey.parse("nocolon")).hasMessageContaining("kid:base64secret");
    assertThatThrownBy(() -> TokenKey.parse("k:!!!notbase64")).hasMessageContaining("not valid Base64")
        .hasMessageNotContaining("!!!");
    assertThatThrownBy(() -> new TokenKeys(List.of(K1, K1))).hasMessageContaining("twice");
    assertThat(K1.toString()).doesNotContain("AQEB").contains("redacted");
    assertThat(TokenKey.parse("u:" + Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[40])).secret())
        .hasSize(40);
  }

  @Test
  @DisplayName("uids with spaces, control characters or over 128 characters cannot be minted")
  void uidRules() {
    assertThatThrownBy(() -> new TokenClaims("a b", null, 1)).hasMessageContaining("spaces");
    assertThatThrownBy(() -> new TokenClaims("a\u0000", null, 1)).hasMessageContaining("control");
    assertThatThrownBy(() -> new TokenClaims("x".repeat(129), null, 1)).hasMessageContaining("1-128");
    assertThatThrownBy(() -> new TokenClaims("", null, 1)).hasMessageContaining("1-128");
  }
}
