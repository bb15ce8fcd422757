package io.opentime.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** docs/tokens.md is the contract with ESPs: its test vectors must be exactly what the code mints and accepts. */
class TokenVectorsTest {

  @Test
  @DisplayName("the test vectors in docs/tokens.md are minted and verified by the codec")
  void docVectorsMatchCode() throws Exception {
    String doc = Files.readString(Path.of("docs/tokens.md"));
    Matcher m = Pattern.compile("(?m)^(v1\\.k2024\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43})$").matcher(doc);
    List<String> vectors = m.results().map(r -> r.group(1)).toList();
    assertThat(vectors).hasSize(2);

    TokenKeys keys = TokenKeys.parse("k2024:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    TokenCodec codec = new TokenCodec(keys, Clock.fixed(Instant.parse("2026-12-01T00:00:00Z"), ZoneOffset.UTC));
    assertThat(codec.mint(new TokenClaims("r-1029384756", "spring-sale", 1798761600L))).isEqualTo(vectors.get(0));
    assertThat(codec.mint(new TokenClaims("r-55", null, 1798761600L))).isEqualTo(vectors.get(1));
    assertThat(codec.verify(vectors.get(0)).claims()).isEqualTo(new TokenClaims("r-1029384756", "spring-sale", 1798761600L));
    assertThat(codec.verify(vectors.get(1)).claims()).isEqualTo(new TokenClaims("r-55", null, 1798761600L));
  }
}
