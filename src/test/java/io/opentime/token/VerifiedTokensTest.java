package io.opentime.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class VerifiedTokensTest {

  /** A clock the test moves. */
  static final class MovableClock extends Clock {
    Instant now = Instant.parse("2026-11-22T10:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  final MovableClock clock = new MovableClock();
  final TokenCodec codec = new TokenCodec(new TokenKeys(List.of(TokenCodecTest.key("k1", 1))), clock);
  final VerifiedTokens tokens = new VerifiedTokens(codec, 1000);

  @Test
  @DisplayName("a remembered token still expires on time")
  void expiryRecheckedOnHit() {
    String t = codec.mint(new TokenClaims("r-1", null, clock.now.getEpochSecond() + 60));
    assertThat(tokens.verify(t).valid()).isTrue();
    assertThat(tokens.verify(t).valid()).isTrue();
    clock.now = clock.now.plusSeconds(60);
    assertThat(tokens.verify(t).rejection()).isEqualTo(TokenRejection.EXPIRED);
  }

  @Test
  @DisplayName("altered copies of a remembered token are verified afresh and rejected")
  void tamperedNeverHits() {
    String t = codec.mint(new TokenClaims("r-1", null, clock.now.getEpochSecond() + 60));
    assertThat(tokens.verify(t).claims().uid()).isEqualTo("r-1");
    String tampered = t.substring(0, t.length() - 2) + (t.charAt(t.length() - 2) == 'A' ? 'B' : 'A') + t.charAt(t.length() - 1);
    assertThat(tokens.verify(tampered).rejection()).isEqualTo(TokenRejection.BAD_SIGNATURE);
    assertThat(tokens.verify(null).rejection()).isEqualTo(TokenRejection.MISSING);
    assertThat(tokens.verify("garbage").rejection()).isEqualTo(TokenRejection.MALFORMED);
  }

  @Test
  @DisplayName("a valid token is remembered the second time it verifies (a one-time token leaves nothing); a rejected one never")
  void remembersOnlyValidTokensSeenTwice() {
    String t = codec.mint(new TokenClaims("r-1", null, clock.now.getEpochSecond() + 60));
    assertThat(tokens.remembers(t)).isFalse();
    assertThat(tokens.verify(t).valid()).isTrue();
    assertThat(tokens.remembers(t)).as("after one verification").isFalse();
    assertThat(tokens.verify(t).valid()).isTrue();
    assertThat(tokens.remembers(t)).as("after two").isTrue();
    assertThat(tokens.verify(t).claims().uid()).isEqualTo("r-1");
    String expired = codec.mint(new TokenClaims("r-2", null, clock.now.getEpochSecond() - 1));
    for (int i = 0; i < 3; i++) {
      assertThat(tokens.verify(expired).rejection()).isEqualTo(TokenRejection.EXPIRED);
    }
    assertThat(tokens.remembers(expired)).isFalse();
    String tampered = t.substring(0, t.length() - 2) + (t.charAt(t.length() - 2) == 'A' ? 'B' : 'A') + t.charAt(t.length() - 1);
    for (int i = 0; i < 3; i++) {
      assertThat(tokens.verify(tampered).rejection()).isEqualTo(TokenRejection.BAD_SIGNATURE);
    }
    assertThat(tokens.remembers(tampered)).isFalse();
  }

  @Test
  @DisplayName("tokens sharing a slot each get their own claims, never the other's")
  void sharedSlotNeverMixesReaders() {
    VerifiedTokens oneSlot = new VerifiedTokens(codec, 1);
    String a = codec.mint(new TokenClaims("reader-a", "c", clock.now.getEpochSecond() + 60));
    String b = codec.mint(new TokenClaims("reader-b", "c", clock.now.getEpochSecond() + 60));
    for (int i = 0; i < 3; i++) {
      assertThat(oneSlot.verify(a).claims().uid()).isEqualTo("reader-a");
      assertThat(oneSlot.verify(a).claims().uid()).isEqualTo("reader-a");
      assertThat(oneSlot.remembers(a)).isTrue();
      assertThat(oneSlot.verify(b).claims().uid()).isEqualTo("reader-b");
      assertThat(oneSlot.remembers(a)).as("b seen once leaves a in the slot").isTrue();
      assertThat(oneSlot.verify(b).claims().uid()).isEqualTo("reader-b");
      assertThat(oneSlot.remembers(a)).isFalse();
      assertThat(oneSlot.remembers(b)).isTrue();
      assertThat(oneSlot.verify(b).claims().uid()).isEqualTo("reader-b");
    }
  }

  @Test
  @DisplayName("the table size must be sensible")
  void badSize() {
    assertThatThrownBy(() -> new VerifiedTokens(codec, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("slots");
  }
}
