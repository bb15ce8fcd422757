package io.opentime.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The fast read of the token parameter must agree with the full query decoder whenever it answers. */
class TokenParamTest {

  static String decoded(String query) {
    List<String> t = new QueryStringDecoder("/?" + query).parameters().get("t");
    return t == null ? null : t.get(0);
  }

  @Test
  @DisplayName("on fixed cases the raw read equals the decoder or defers to it")
  void fixedCases() {
    String[] queries = {"t=v1.k.abc.def", "a=1&t=v1.k.abc.def&b=2", "t=", "t=a&t=b", "x=1", "tt=1&t=2", "at=1",
        "t=a%2Eb", "t=a+b", "x=%26t%3Dz&t=ok", "x=1;t=z&t=y", "t=abc;x=1", "__amp_source_origin=a%40b.c&t=tok",
        "%74=enc", "t=a&&t=b", "&t=lead"};
    for (String q : queries) {
      String raw = HttpVerticle.rawTokenParam(q);
      if (raw != null) {
        assertThat(raw).as(q).isEqualTo(decoded(q));
      }
    }
    assertThat(HttpVerticle.rawTokenParam("t=v1.k.abc.def&b=2")).isEqualTo("v1.k.abc.def");
    assertThat(HttpVerticle.rawTokenParam("t=v1.k.abc.def")).isEqualTo("v1.k.abc.def");
    assertThat(HttpVerticle.rawTokenParam("t=a%2Eb")).isNull();
  }

  @Test
  @DisplayName("on 20,000 generated queries the raw read never disagrees with the decoder")
  void generated() {
    Random rnd = new Random(20261122);
    String alphabet = "tax=&%;+.2E_-bq";
    int answered = 0;
    for (int i = 0; i < 20_000; i++) {
      StringBuilder q = new StringBuilder();
      int len = rnd.nextInt(14);
      for (int j = 0; j < len; j++) {
        q.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
      }
      if (rnd.nextBoolean()) {
        q.insert(0, "t=");
      } else if (rnd.nextBoolean()) {
        q.insert(rnd.nextInt(q.length() + 1), rnd.nextBoolean() ? "t=" : "&t=");
      }
      String query = q.toString();
      String raw = HttpVerticle.rawTokenParam(query);
      String dec;
      try {
        dec = decoded(query);
      } catch (IllegalArgumentException malformed) {
        continue; // the server answers 400 for these before the handler runs
      }
      if (raw != null) {
        answered++;
        assertThat(raw).as("query %s", query).isEqualTo(dec);
      }
    }
    assertThat(answered).isGreaterThan(2000);
  }
}
