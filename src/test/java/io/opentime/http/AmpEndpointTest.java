package io.opentime.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.ops.GatewayMetrics;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** GET /v1/amp/{block} end to end: real HTTP, real Redis. */
@ExtendWith(VertxExtension.class)
class AmpEndpointTest {

  static Vertx vertx;
  static RunningGateway gw;

  @BeforeAll
  static void start(Vertx v) {
    vertx = v;
    gw = RunningGateway.onSharedRedis(vertx);
    gw.putProfile("amp-ada", Map.of("first_name", "Ada", "loyalty_tier", "gold", "email", "ada@example.com",
        "phone", "+44 20 7946 0000"));
    gw.putProfile("amp-bob", Map.of("first_name", "Bob"));
    gw.putProfile("amp-hostile", Map.of("first_name", "</script><script>alert(\"x\")</script>\u2028\\", "loyalty_tier", "Zoë ✓"));
  }

  @AfterAll
  static void stop() {
    gw.close(); // the Vertx is closed by VertxExtension
  }

  @Test
  @DisplayName("a reader's allowlisted fields come from Redis first, then from the cache")
  void personalizedThenCached() {
    String uid = "amp-fresh-" + System.nanoTime();
    gw.putProfile(uid, Map.of("first_name", "Ada", "loyalty_tier", "gold"));
    HttpResponse<String> first = gw.greeting(uid);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo("{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}");
    assertThat(first.headers().firstValue("X-Opentime-Source")).hasValue("redis");
    HttpResponse<String> second = gw.greeting(uid);
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(second.headers().firstValue("X-Opentime-Source")).hasValue("cache");
  }

  @Test
  @DisplayName("fields outside the block's allowlist never leave the gateway")
  void allowlistOnly() {
    String body = gw.greeting("amp-ada").body();
    assertThat(body).doesNotContain("ada@example.com").doesNotContain("7946").doesNotContain("email");
  }

  @Test
  @DisplayName("a missing field takes the block default; an unknown reader gets all defaults")
  void defaultsPerField() {
    assertThat(gw.greeting("amp-bob").body()).isEqualTo("{\"items\":[{\"first_name\":\"Bob\",\"loyalty_tier\":\"member\"}]}");
    HttpResponse<String> nobody = gw.greeting("amp-nobody-" + System.nanoTime());
    assertThat(nobody.body()).isEqualTo("{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}");
    assertThat(nobody.headers().firstValue("X-Opentime-Source")).hasValue("redis");
  }

  @Test
  @DisplayName("a profile key that is not a hash gives that reader defaults and does not count against Redis")
  void wrongType() {
    gw.send(io.vertx.redis.client.Request.cmd(io.vertx.redis.client.Command.SET).arg(gw.config.redis().profileKey("amp-wrongtype")).arg("x"));
    double errors = gw.counter(GatewayMetrics.FALLBACKS, "reason", "error");
    for (int i = 0; i < gw.config.redis().breakerFailures() + 5; i++) {
      gw.gateway.services().cache().invalidate("amp-wrongtype");
      HttpResponse<String> r = gw.greeting("amp-wrongtype");
      assertThat(r.body()).isEqualTo("{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}");
    }
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "error")).isEqualTo(errors);
    assertThat(gw.gateway.services().store().breakerState())
        .isEqualTo(io.vertx.circuitbreaker.CircuitBreakerState.CLOSED);
  }

  @Test
  @DisplayName("hostile profile values are JSON-escaped, unicode intact")
  void escaping() {
    HttpResponse<String> r = gw.greeting("amp-hostile");
    io.vertx.core.json.JsonObject item = new io.vertx.core.json.JsonObject(r.body()).getJsonArray("items").getJsonObject(0);
    assertThat(item.getString("first_name")).isEqualTo("</script><script>alert(\"x\")</script>\u2028\\");
    assertThat(item.getString("loyalty_tier")).isEqualTo("Zoë ✓");
    assertThat(r.body()).contains("\\\"x\\\"");
  }

  @Test
  @DisplayName("answers are JSON, private and not stored, never redirects")
  void headers() {
    HttpResponse<String> r = gw.greeting("amp-ada");
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(r.headers().firstValue("cache-control")).hasValue("private, no-store");
    assertThat(r.headers().firstValue("x-content-type-options")).hasValue("nosniff");
    assertThat(r.headers().firstValue("location")).isEmpty();
    HttpResponse<String> slash = Http.get(gw.base() + "/v1/amp/greeting/?t=" + gw.token("amp-ada"),
        "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(slash.statusCode()).isEqualTo(200);
    assertThat(slash.headers().firstValue("location")).isEmpty();
  }

  @Test
  @DisplayName("bad, tampered, expired or missing tokens get the defaults (200) and are counted by reason")
  void badTokens() {
    double malformed = gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "malformed");
    double badSig = gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "bad_signature");
    double expired = gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "expired");
    double missing = gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "missing");
    double badTokenFallbacks = gw.counter(GatewayMetrics.FALLBACKS, "reason", "bad_token");
    String defaults = "{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}";
    String good = gw.token("amp-ada");
    String tampered = good.substring(0, good.length() - 2) + (good.charAt(good.length() - 2) == 'A' ? 'B' : 'A')
        + good.charAt(good.length() - 1);
    var expiredCodec = new io.opentime.token.TokenCodec(gw.config.tokenKeys(), Clock.systemUTC());
    String expiredToken = expiredCodec.mint(new io.opentime.token.TokenClaims("amp-ada", null,
        Clock.systemUTC().instant().getEpochSecond() - 1));

    for (String url : new String[] {
        gw.base() + "/v1/amp/greeting?t=garbage",
        gw.base() + "/v1/amp/greeting?t=" + tampered,
        gw.base() + "/v1/amp/greeting?t=" + expiredToken,
        gw.base() + "/v1/amp/greeting"}) {
      HttpResponse<String> r = Http.get(url, "AMP-Email-Sender", TestConfig.SENDER);
      assertThat(r.statusCode()).as(url).isEqualTo(200);
      assertThat(r.body()).as(url).isEqualTo(defaults);
      assertThat(r.headers().firstValue("X-Opentime-Source")).hasValue("default");
      assertThat(r.headers().firstValue("AMP-Email-Allow-Sender")).hasValue(TestConfig.SENDER);
    }
    assertThat(gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "malformed")).isEqualTo(malformed + 1);
    assertThat(gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "bad_signature")).isEqualTo(badSig + 1);
    assertThat(gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "expired")).isEqualTo(expired + 1);
    assertThat(gw.counter(GatewayMetrics.TOKENS_REJECTED, "reason", "missing")).isEqualTo(missing + 1);
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "bad_token")).isEqualTo(badTokenFallbacks + 4);
  }

  @Test
  @DisplayName("answers are counted by block and source")
  void answerCounters() {
    String uid = "amp-count-" + System.nanoTime();
    double redis = gw.counter(GatewayMetrics.ANSWERS, "route", "amp", "block", "greeting", "source", "redis");
    double cache = gw.counter(GatewayMetrics.ANSWERS, "route", "amp", "block", "greeting", "source", "cache");
    gw.greeting(uid);
    gw.greeting(uid);
    gw.greeting(uid);
    assertThat(gw.counter(GatewayMetrics.ANSWERS, "route", "amp", "block", "greeting", "source", "redis"))
        .isEqualTo(redis + 1);
    assertThat(gw.counter(GatewayMetrics.ANSWERS, "route", "amp", "block", "greeting", "source", "cache"))
        .isEqualTo(cache + 2);
  }

  @Test
  @DisplayName("an unknown block or path is a 404 with a JSON error and no data")
  void unknownBlock() {
    HttpResponse<String> r = Http.get(gw.ampUrl("nope", "amp-ada"), "AMP-Email-Sender", TestConfig.SENDER);
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).isEqualTo("{\"error\":\"unknown block\"}");
    assertThat(Http.get(gw.base() + "/v1/amp/..%2F..%2Fetc%2Fpasswd?t=x", "AMP-Email-Sender", TestConfig.SENDER)
        .statusCode()).isEqualTo(404);
    assertThat(Http.get(gw.base() + "/v1/amp/greeting/extra", "AMP-Email-Sender", TestConfig.SENDER).statusCode())
        .isEqualTo(404);
    HttpResponse<String> root = Http.get(gw.base() + "/");
    assertThat(root.statusCode()).isEqualTo(404);
    assertThat(root.body()).isEqualTo("{\"error\":\"not found\"}");
  }

  @Test
  @DisplayName("malformed percent escapes answer 400, not a hang or a 500")
  void malformedEscapes() {
    String path = Http.raw(gw.config.http().port(), "GET /v1/amp/gr%zzeeting HTTP/1.1");
    assertThat(path).startsWith("HTTP/1.1 400");
    String query = Http.raw(gw.config.http().port(), "GET /v1/amp/greeting?t=%zz HTTP/1.1",
        "AMP-Email-Sender: " + TestConfig.SENDER);
    assertThat(query).startsWith("HTTP/1.1 400").contains("{\"error\":\"bad request\"}").doesNotContain("Ada");
    String truncated = Http.raw(gw.config.http().port(), "GET /v1/amp/greeting?t=abc% HTTP/1.1",
        "AMP-Email-Sender: " + TestConfig.SENDER);
    assertThat(truncated).startsWith("HTTP/1.1 400").doesNotContain("Ada");
  }

  @Test
  @DisplayName("other methods are refused with 405")
  void methods() {
    HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create(gw.ampUrl("greeting", "amp-ada")))
        .header("AMP-Email-Sender", TestConfig.SENDER).POST(HttpRequest.BodyPublishers.ofString("{}")).build());
    assertThat(r.statusCode()).isEqualTo(405);
    assertThat(r.body()).doesNotContain("Ada");
  }
}
