package io.opentime.content;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.config.BlockConfig;
import io.opentime.config.ConfigException;
import io.opentime.ops.GatewayMetrics;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.opentime.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** GET /v1/fragment/{block}: templates compiled at start-up, escaped output, safe fallbacks, no file access by URL. */
@ExtendWith(VertxExtension.class)
class FragmentTest {

  static RunningGateway gw;
  static final String DEFAULT_FRAGMENT =
      "<p class=\"opentime-greeting\">Hello there! As a member member, this week's picks are yours.</p>\n";

  @TempDir
  Path dir;

  @BeforeAll
  static void start(Vertx vertx) {
    gw = RunningGateway.onSharedRedis(vertx);
    gw.putProfile("f-ada", Map.of("first_name", "Ada", "loyalty_tier", "gold", "email", "ada@example.com"));
    gw.putProfile("f-evil", Map.of("first_name", "<script>alert('x')</script> & \"Zoë\"", "loyalty_tier", "gold"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  static HttpResponse<String> fragment(String uid) {
    return Http.get(gw.base() + "/v1/fragment/greeting?t=" + gw.token(uid));
  }

  @Test
  @DisplayName("a reader's fragment is the block's template rendered with their allowlisted fields, as HTML")
  void renders() {
    HttpResponse<String> r = fragment("f-ada");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(
        "<p class=\"opentime-greeting\">Hello Ada! As a gold member, this week's picks are yours.</p>\n");
    assertThat(r.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
    assertThat(r.headers().firstValue("cache-control")).hasValue("private, no-store");
    assertThat(r.headers().firstValue("X-Opentime-Source")).hasValueSatisfying(s -> assertThat(s).isIn("redis", "cache"));
    assertThat(r.body()).doesNotContain("ada@example.com");
  }

  @Test
  @DisplayName("a block with variants shows the first matching segment's copy, in JSON and in HTML")
  void variants() {
    String twoHoursAgo = java.time.Instant.now().minus(java.time.Duration.ofHours(2)).toString();
    gw.putProfile("f-cart", Map.of("first_name", "Ann", "cart_updated_at", twoHoursAgo));
    HttpResponse<String> amp = Http.get(gw.ampUrl("offer", "f-cart"), "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(amp.body()).isEqualTo("{\"items\":[{\"first_name\":\"Ann\",\"variant\":\"cart_abandoned\","
        + "\"headline\":\"You left something in your cart\",\"cta\":\"Finish your order\"}]}");
    String html = Http.get(gw.base() + "/v1/fragment/offer?t=" + gw.token("f-cart")).body();
    assertThat(html).contains("data-variant=\"cart_abandoned\"").contains("<h2>You left something in your cart</h2>")
        .contains("Hi Ann,");
    gw.putProfile("f-plain", Map.of("first_name", "Pia"));
    HttpResponse<String> plain = Http.get(gw.ampUrl("offer", "f-plain"), "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(plain.body()).isEqualTo("{\"items\":[{\"first_name\":\"Pia\",\"variant\":\"default\","
        + "\"headline\":\"New in this week\",\"cta\":\"See what's new\"}]}");
    HttpResponse<String> nobody = Http.get(gw.base() + "/v1/amp/offer?t=forged", "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(nobody.body()).isEqualTo("{\"items\":[{\"first_name\":\"there\",\"variant\":\"defaulted\","
        + "\"headline\":\"This week's picks\",\"cta\":\"Shop now\"}]}");
    assertThat(Http.get(gw.base() + "/v1/fragment/offer?t=forged").body()).contains("data-variant=\"defaulted\"")
        .contains("This week&#39;s picks");
  }

  @Test
  @DisplayName("a segment rule failing for one profile answers the default variant and is counted")
  void ruleFailureFallsBack() {
    gw.putProfile("f-odd", Map.of("first_name", "Odd", "cart_updated_at", "last tuesday"));
    double before = gw.counter(GatewayMetrics.SEGMENT_ERRORS, "segment", "cart_abandoned");
    HttpResponse<String> r = Http.get(gw.ampUrl("offer", "f-odd"), "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"first_name\":\"Odd\"").contains("\"variant\":\"default\"");
    assertThat(gw.counter(GatewayMetrics.SEGMENT_ERRORS, "segment", "cart_abandoned")).isEqualTo(before + 1);
  }

  @Test
  @DisplayName("answers say how old their profile data is: 0 from Redis, growing in the cache, absent for defaults")
  void dataAge() {
    gw.putProfile("f-age", Map.of("first_name", "Ada"));
    HttpResponse<String> fresh = Http.get(gw.ampUrl("greeting", "f-age"), "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(fresh.headers().firstValue("X-Opentime-Data-Age")).hasValue("0");
    Http.get(gw.ampUrl("greeting", "f-age"), "AMP-Email-Sender", TestConfig.SENDER); // settle the cache entry
    // Within the refresh age, so no background re-read can race the answer (stale is covered with a paused Redis).
    gw.ticker.advance(java.time.Duration.ofSeconds(3));
    HttpResponse<String> cached = fragment("f-age");
    assertThat(cached.headers().firstValue("X-Opentime-Source")).hasValue("cache");
    assertThat(cached.headers().firstValue("X-Opentime-Data-Age")).hasValue("3");
    HttpResponse<String> none = Http.get(gw.base() + "/v1/fragment/greeting?t=forged");
    assertThat(none.headers().firstValue("X-Opentime-Data-Age")).isEmpty();
  }

  @Test
  @DisplayName("hostile profile values are HTML-escaped")
  void escapes() {
    String body = fragment("f-evil").body();
    assertThat(body).doesNotContain("<script>").contains("&lt;script&gt;").contains("&amp;").contains("&quot;Zoë&quot;");
  }

  @Test
  @DisplayName("an unknown reader gets the template with defaults; a bad token the default fragment, counted")
  void defaults() {
    assertThat(fragment("f-nobody-" + System.nanoTime()).body()).isEqualTo(DEFAULT_FRAGMENT);
    double before = gw.counter(GatewayMetrics.ANSWERS, "route", "fragment", "block", "greeting", "source", "default");
    HttpResponse<String> forged = Http.get(gw.base() + "/v1/fragment/greeting?t=v1.t1.forged.x");
    assertThat(forged.statusCode()).isEqualTo(200);
    assertThat(forged.body()).isEqualTo(DEFAULT_FRAGMENT);
    assertThat(Http.get(gw.base() + "/v1/fragment/greeting").body()).isEqualTo(DEFAULT_FRAGMENT);
    assertThat(gw.counter(GatewayMetrics.ANSWERS, "route", "fragment", "block", "greeting", "source", "default"))
        .isEqualTo(before + 2);
  }

  @Test
  @DisplayName("a URL can only name a configured block: traversal, encoded and absolute paths are 404s")
  void noFileAccess() {
    int port = gw.config.http().port();
    for (String path : List.of("/v1/fragment/..%2Fapplication.yaml", "/v1/fragment/%2e%2e/%2e%2e/conf/application.yaml",
        "/v1/fragment/../../conf/application.yaml", "/v1/fragment//etc/passwd", "/v1/fragment/greeting.mustache",
        "/v1/fragment/%2Fetc%2Fpasswd", "/v1/fragment/nope")) {
      String answer = Http.raw(port, "GET " + path + "?t=" + gw.token("f-ada") + " HTTP/1.1");
      assertThat(answer).as(path).matches("(?s)HTTP/1.1 (404|400) .*").doesNotContain("redis:").doesNotContain("root:")
          .doesNotContain("Ada");
    }
  }

  FragmentTemplates load(BlockConfig block) {
    Map<String, BlockConfig> blocks = Map.of(block.name(), block);
    return FragmentTemplates.load(blocks, new BlockRegistry(blocks), dir);
  }

  @Test
  @DisplayName("a template that fails while rendering one reader answers the default fragment, counted")
  void renderFailureFallsBack(Vertx vertx) throws Exception {
    // Renders fine with the defaults (vip empty), recurses without end for a reader whose vip is set.
    Files.writeString(dir.resolve("loop.mustache"), "<p>Hi {{first_name}}{{#vip}}{{> loop.mustache}}{{/vip}}</p>");
    List<BlockConfig.Field> fields = List.of(new BlockConfig.Field("first_name", "there"),
        new BlockConfig.Field("vip", ""));
    var config = TestConfig.forRedis(TestRedis.shared().url(), Map.of())
        .withBlocks(Map.of("loop", new BlockConfig("loop", fields, "loop.mustache")))
        .withTemplatesDir(dir);
    try (RunningGateway own = new RunningGateway(vertx, config)) {
      own.putProfile("f-loop", Map.of("first_name", "Lu", "vip", "yes"));
      own.putProfile("f-fine", Map.of("first_name", "Fi"));
      assertThat(Http.get(own.base() + "/v1/fragment/loop?t=" + own.token("f-fine")).body()).isEqualTo("<p>Hi Fi</p>");
      HttpResponse<String> r = Http.get(own.base() + "/v1/fragment/loop?t=" + own.token("f-loop"));
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("<p>Hi there</p>");
      assertThat(r.headers().firstValue("X-Opentime-Source")).hasValue("default");
      assertThat(own.counter(GatewayMetrics.FALLBACKS, "reason", "render_error")).isEqualTo(1.0);
    }
  }

  @Test
  @DisplayName("templates that do not compile, use unescaped output or are missing stop start-up, naming the file")
  void badTemplates() throws Exception {
    List<BlockConfig.Field> fields = List.of(new BlockConfig.Field("first_name", "there"));
    Files.writeString(dir.resolve("broken.mustache"), "<p>\n{{#first_name}}\nno closing tag\n");
    assertThatThrownBy(() -> load(new BlockConfig("b", fields, "broken.mustache")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(dir.resolve("broken.mustache").toString())
        .hasMessageContaining("broken.mustache:");
    Files.writeString(dir.resolve("raw.mustache"), "<p>{{{first_name}}}</p>");
    assertThatThrownBy(() -> load(new BlockConfig("b", fields, "raw.mustache")))
        .hasMessageContaining("unescaped output");
    assertThatThrownBy(() -> load(new BlockConfig("b", fields, "gone.mustache")))
        .hasMessageContaining("gone.mustache: not found");
  }
}
