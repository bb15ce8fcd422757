package io.opentime.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.ops.GatewayMetrics;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.core.Vertx;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every accept and reject case of AMP for Email CORS, over real HTTP. Allowlist: news@shop.example, *@mail.shop.example. */
@ExtendWith(VertxExtension.class)
class AmpCorsTest {

  static Vertx vertx;
  static RunningGateway gw;
  static final String UID = "cors-ada";
  static final String ADA = "{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}";

  @BeforeAll
  static void start(Vertx v) {
    vertx = v;
    gw = RunningGateway.onSharedRedis(vertx);
    gw.putProfile(UID, Map.of("first_name", "Ada", "loyalty_tier", "gold"));
  }

  @AfterAll
  static void stop() {
    gw.close(); // the Vertx is closed by VertxExtension
  }

  static String url(String sourceOrigin) {
    String u = gw.ampUrl("greeting", UID);
    return sourceOrigin == null ? u : u + "&__amp_source_origin=" + URLEncoder.encode(sourceOrigin, StandardCharsets.UTF_8);
  }

  @ParameterizedTest(name = "v2 sender {0} is allowed and echoed")
  @MethodSource("allowedV2Senders")
  void v2Accept(String sender) {
    HttpResponse<String> r = Http.get(url(null), "AMP-Email-Sender", sender);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(ADA);
    assertThat(r.headers().allValues("AMP-Email-Allow-Sender")).containsExactly(sender);
    assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    assertThat(r.headers().firstValue("AMP-Access-Control-Allow-Source-Origin")).isEmpty();
  }

  static Stream<String> allowedV2Senders() {
    return Stream.of("news@shop.example", "NEWS@Shop.Example", "promo@mail.shop.example", "a.b+c@MAIL.shop.example");
  }

  @ParameterizedTest(name = "v1 from {0} with sender {1} is allowed")
  @MethodSource("allowedV1")
  void v1Accept(String origin, String sender) {
    HttpResponse<String> r = Http.get(url(sender), "Origin", origin);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(ADA);
    assertThat(r.headers().allValues("Access-Control-Allow-Origin")).containsExactly(origin);
    assertThat(r.headers().allValues("AMP-Access-Control-Allow-Source-Origin")).containsExactly(sender);
    assertThat(r.headers().allValues("Access-Control-Expose-Headers"))
        .containsExactly("AMP-Access-Control-Allow-Source-Origin");
    assertThat(r.headers().firstValue("AMP-Email-Allow-Sender")).isEmpty();
  }

  static Stream<Arguments> allowedV1() {
    return Stream.of(Arguments.of("https://mail.google.com", "news@shop.example"),
        Arguments.of("https://amp.gmail.dev", "x@mail.shop.example"));
  }

  @Test
  @DisplayName("with both v1 and v2 present, v2 alone decides and only v2 headers are sent")
  void v2WinsWhenAllowed() {
    HttpResponse<String> r = Http.get(url("news@shop.example"), "AMP-Email-Sender", "promo@mail.shop.example",
        "Origin", "https://mail.google.com");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().allValues("AMP-Email-Allow-Sender")).containsExactly("promo@mail.shop.example");
    assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    assertThat(r.headers().firstValue("AMP-Access-Control-Allow-Source-Origin")).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rejected")
  void reject(String why, String sourceOrigin, String[] headers) {
    double before = gw.counter(GatewayMetrics.CORS_REJECTED, "route", "amp");
    HttpResponse<String> r = Http.get(url(sourceOrigin), headers);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).doesNotContain("Ada").doesNotContain("gold").contains("sender not allowed");
    for (String h : new String[] {"AMP-Email-Allow-Sender", "Access-Control-Allow-Origin",
        "AMP-Access-Control-Allow-Source-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials"}) {
      assertThat(r.headers().firstValue(h)).as(h).isEmpty();
    }
    assertThat(gw.counter(GatewayMetrics.CORS_REJECTED, "route", "amp")).isEqualTo(before + 1);
  }

  static Stream<Arguments> rejected() {
    return Stream.of(
        Arguments.of("neither v1 nor v2", null, new String[0]),
        Arguments.of("v2 sender not on the list", null, new String[] {"AMP-Email-Sender", "other@shop.example"}),
        Arguments.of("v2 sender on a subdomain of a *@domain entry", null,
            new String[] {"AMP-Email-Sender", "x@sub.mail.shop.example"}),
        Arguments.of("v2 sender on a lookalike domain", null, new String[] {"AMP-Email-Sender", "news@shop.example.evil"}),
        Arguments.of("v2 wildcard domain with markup in the local part", null,
            new String[] {"AMP-Email-Sender", "<script>@mail.shop.example"}),
        Arguments.of("v2 quoted local part", null, new String[] {"AMP-Email-Sender", "\"a b\"@mail.shop.example"}),
        Arguments.of("v2 sender '*'", null, new String[] {"AMP-Email-Sender", "*"}),
        Arguments.of("v2 empty sender", null, new String[] {"AMP-Email-Sender", ""}),
        Arguments.of("v2 refused even though v1 would pass", "news@shop.example",
            new String[] {"AMP-Email-Sender", "other@shop.example", "Origin", "https://mail.google.com"}),
        Arguments.of("v1 origin not on the list", "news@shop.example", new String[] {"Origin", "https://evil.example"}),
        Arguments.of("v1 origin 'null'", "news@shop.example", new String[] {"Origin", "null"}),
        Arguments.of("v1 origin over http", "news@shop.example", new String[] {"Origin", "http://mail.google.com"}),
        Arguments.of("v1 without __amp_source_origin", null, new String[] {"Origin", "https://mail.google.com"}),
        Arguments.of("v1 sender not on the list", "other@shop.example", new String[] {"Origin", "https://mail.google.com"}),
        Arguments.of("v1 sender without Origin", "news@shop.example", new String[0]));
  }

  @Test
  @DisplayName("address syntax check: only plain dot-atom addresses can ever be echoed")
  void plainAddress() {
    assertThat(AmpCors.plainAddress("a.b+c@x-y.example")).isTrue();
    assertThat(AmpCors.plainAddress("a@b")).isTrue();
    assertThat(AmpCors.plainAddress("a\r\nX: y@b")).isFalse();
    assertThat(AmpCors.plainAddress("a@b@c")).isFalse();
    assertThat(AmpCors.plainAddress("@b")).isFalse();
    assertThat(AmpCors.plainAddress("a@")).isFalse();
    assertThat(AmpCors.plainAddress("a@b_c")).isFalse();
    assertThat(AmpCors.plainAddress("x".repeat(250) + "@b.cd")).isFalse();
  }
}
