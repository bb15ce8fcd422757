package io.opentime.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.config.GatewayConfig;
import io.opentime.config.LinksConfig;
import io.opentime.demo.EmbeddedKafka;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.ops.EventMetrics;
import io.opentime.support.EventsSetup;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestKafka;
import io.opentime.support.TestRedis;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenCodec;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The open pixel and click redirect against a real Kafka broker and Redis: what is answered, what is recorded, and
 * what is not (bad tokens, consent, Kafka or Redis away).
 */
@ExtendWith(VertxExtension.class)
class TrackingTest {

  static final HttpClient CLIENT = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(2)).build();
  static final String GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
  /** Far above anything the pixel does, far below a hang: an answer slower than this waited on Kafka or Redis. */
  static final long NO_WAIT_BOUND_MS = 1_000;

  Vertx vertx;
  RunningGateway gw;
  EmbeddedKafka ownKafka;
  EmbeddedRedis ownRedis;

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
  }

  @AfterEach
  void tearDown() {
    if (gw != null) {
      gw.close();
    }
    if (ownKafka != null) {
      ownKafka.close();
    }
    if (ownRedis != null) {
      ownRedis.close();
    }
  }

  private RunningGateway start(GatewayConfig config) {
    gw = new RunningGateway(vertx, config);
    return gw;
  }

  private RunningGateway startShared() {
    return start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
  }

  static HttpResponse<byte[]> get(String url, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    if (headers.length > 0) {
      b.headers(headers);
    }
    try {
      return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String openUrl(String token) {
    return gw.base() + "/v1/open/" + token + ".gif";
  }

  private String clickToken(String uid, String link) {
    TokenCodec codec = new TokenCodec(gw.config.tokenKeys(), Clock.systemUTC());
    return codec.mint(new TokenClaims(uid, "spring", Clock.systemUTC().instant().plusSeconds(3600).getEpochSecond(), link));
  }

  private double notTracked(String kind, String reason) {
    return gw.counter(EventMetrics.NOT_TRACKED, "kind", kind, "reason", reason);
  }

  private static void assertGif(HttpResponse<byte[]> r) {
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).hasSize(43).isEqualTo(Tracking.GIF);
    assertThat(r.headers().firstValue("content-type")).hasValue("image/gif");
    assertThat(r.headers().firstValue("cache-control")).hasValue("no-cache, no-store, must-revalidate, max-age=0");
    assertThat(r.headers().firstValue("pragma")).hasValue("no-cache");
    assertThat(r.headers().firstValue("expires")).hasValue("0");
  }

  @Test
  void pixelAnswersTheGifAndRecordsTheOpenKeyedByUid() {
    startShared();
    gw.putProfile("px-1", Map.of("first_name", "Ada"));
    assertGif(get(openUrl(gw.token("px-1")), "User-Agent", GMAIL_PROXY));
    assertGif(get(openUrl(gw.token("px-1")), "User-Agent", "Mozilla/5.0"));

    List<ConsumerRecord<String, String>> opens = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().opens(), 2, Duration.ofSeconds(20));
    assertThat(opens).hasSize(2);
    JsonObject first = new JsonObject(opens.get(0).value());
    assertThat(opens.get(0).key()).isEqualTo("px-1");
    assertThat(first.getString("type")).isEqualTo("open");
    assertThat(first.getString("uid")).isEqualTo("px-1");
    assertThat(first.getString("campaign")).isEqualTo("test");
    assertThat(first.getString("id")).hasSize(32);
    assertThat(first.getString("time")).isNotBlank();
    assertThat(opens).extracting(r -> new JsonObject(r.value()).getString("proxy"))
        .containsExactlyInAnyOrder("gmail", "apple_mpp");
    assertThat(opens).extracting(r -> new JsonObject(r.value()).getBoolean("machine"))
        .containsExactlyInAnyOrder(false, true);
  }

  @Test
  void aBadTokenStillGetsTheGifAndNothingIsRecorded() {
    startShared();
    String forged = forge(gw.token("px-2"));
    assertGif(get(openUrl(forged)));
    assertGif(get(openUrl("not-a-token")));
    assertGif(get(gw.base() + "/v1/open/.gif"));
    assertThat(notTracked("open", "bad_token")).isEqualTo(3);
    // A genuine open after them is the only event on the topic.
    assertGif(get(openUrl(gw.token("px-2-real"))));
    List<ConsumerRecord<String, String>> opens = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().opens(), 2, Duration.ofSeconds(5));
    assertThat(opens).extracting(ConsumerRecord::key).containsExactly("px-2-real");
  }

  @Test
  void withTrackingWithdrawnOpensAndClicksAreNotRecorded() {
    GatewayConfig base = EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of());
    start(base.withEvents(new io.opentime.config.EventsConfig(base.events().kafka(), base.events().updater(), false,
        new LinksConfig(Map.of("home", "https://shop.example/"), "links", ""), base.events().webhook())));
    gw.putProfile("px-3", Map.of("first_name", "Ada", "consent_tracking", "false"));
    assertGif(get(openUrl(gw.token("px-3"))));
    HttpResponse<byte[]> click = get(gw.base() + "/v1/click/" + clickToken("px-3", "home"));
    assertThat(click.statusCode()).isEqualTo(302);
    assertThat(click.headers().firstValue("location")).hasValue("https://shop.example/");
    awaitCount(() -> notTracked("open", "no_consent") + notTracked("click", "no_consent"), 2);
    gw.putProfile("px-3b", Map.of("consent_tracking", "true"));
    assertGif(get(openUrl(gw.token("px-3b"))));
    List<ConsumerRecord<String, String>> opens = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().opens(), 2, Duration.ofSeconds(5));
    assertThat(opens).extracting(ConsumerRecord::key).containsExactly("px-3b");
    assertThat(EventsSetup.read(TestKafka.bootstrapServers(), gw.config.events().kafka().topics().clicks(), 1,
        Duration.ofSeconds(2))).isEmpty();
  }

  @Test
  void withPersonalizationWithdrawnBlocksAnswerTheirDefaults() {
    startShared();
    gw.putProfile("px-4", Map.of("first_name", "Ada", "consent_personalization", "false"));
    var r = gw.greeting("px-4");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"first_name\":\"there\"").doesNotContain("Ada");
    assertThat(r.headers().firstValue("x-opentime-source")).hasValue("default");
    assertThat(gw.counter("opentime.fallbacks", "reason", "no_consent")).isEqualTo(1);
    gw.putProfile("px-4b", Map.of("first_name", "Bea", "consent_personalization", "true"));
    assertThat(gw.greeting("px-4b").body()).contains("Bea");
  }

  @Test
  void explicitConsentRequiredTreatsAMissingFlagAsNotGiven() {
    start(EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(),
        Map.of("OPENTIME_CONSENT_REQUIRE_EXPLICIT", "true")));
    gw.putProfile("px-5", Map.of("first_name", "Ada"));
    assertThat(gw.greeting("px-5").body()).doesNotContain("Ada");
    assertGif(get(openUrl(gw.token("px-5"))));
    awaitCount(() -> notTracked("open", "no_consent"), 1);
  }

  @Test
  void whenConsentCannotBeReadNothingIsRecorded() throws Exception {
    ownRedis = EmbeddedRedis.start(0);
    start(EventsSetup.config(ownRedis.url(), TestKafka.bootstrapServers(), Map.of()));
    ownRedis.kill();
    long started = System.nanoTime();
    assertGif(get(openUrl(gw.token("px-6"))));
    assertThat((System.nanoTime() - started) / 1_000_000).isLessThan(NO_WAIT_BOUND_MS);
    awaitCount(() -> notTracked("open", "consent_unknown"), 1);
    assertThat(EventsSetup.read(TestKafka.bootstrapServers(), gw.config.events().kafka().topics().opens(), 1,
        Duration.ofSeconds(2))).isEmpty();
  }

  @Test
  void pixelNeverWaitsForKafkaAndQueuedOpensAreDeliveredWhenItIsBack() throws Exception {
    ownKafka = EmbeddedKafka.start(0);
    String opensTopic = "opens-outage";
    ownKafka.createTopics(1, opensTopic);
    GatewayConfig base = EventsSetup.config(TestRedis.shared().url(), ownKafka.bootstrapServers(), Map.of(),
        new io.opentime.config.KafkaConfig.Topics("pe-outage", opensTopic, "clicks-outage", "dlq-outage"), "outage");
    // No updater here: its consumer would only add noise while the broker is down.
    start(base.withEvents(base.events().withUpdater(new io.opentime.config.UpdaterConfig(false, 1, "g", 10,
        Duration.ofSeconds(1), Duration.ofSeconds(1), "opentime:invalidate:outage"))));
    gw.putProfile("px-7", Map.of("first_name", "Ada"));
    assertGif(get(openUrl(gw.token("px-7")))); // producer connected and metadata known before the outage
    ownKafka.stop();
    int n = 30;
    for (int i = 0; i < n; i++) {
      long started = System.nanoTime();
      assertGif(get(openUrl(gw.token("px-7"))));
      assertThat((System.nanoTime() - started) / 1_000_000).as("open %d waited", i).isLessThan(NO_WAIT_BOUND_MS);
    }
    awaitCount(() -> gw.counter(EventMetrics.TRACKED, "kind", "open"), n + 1);
    ownKafka.restart();
    List<ConsumerRecord<String, String>> opens = EventsSetup.read(ownKafka.bootstrapServers(), opensTopic, n + 1,
        Duration.ofSeconds(60));
    assertThat(opens).hasSize(n + 1);
    assertThat(gw.counter(EventMetrics.DROPPED, "topic", opensTopic)).isZero();
    assertThat(gw.counter(EventMetrics.FAILED, "topic", opensTopic)).isZero();
  }

  @Test
  void clickRedirectsToTheLinkTargetAndRecordsTheClick() {
    GatewayConfig base = EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of());
    start(base.withEvents(new io.opentime.config.EventsConfig(base.events().kafka(), base.events().updater(), false,
        new LinksConfig(Map.of("home", "https://shop.example/?utm_source=email"), "links:click-test", ""),
        base.events().webhook())));
    gw.send(Request.cmd(Command.HSET).arg("links:click-test").arg("sale").arg("https://shop.example/sale")
        .arg("evil").arg("javascript:alert(1)").arg("relative").arg("/just/a/path"));
    gw.putProfile("ck-1", Map.of("first_name", "Ada"));

    HttpResponse<byte[]> home = get(gw.base() + "/v1/click/" + clickToken("ck-1", "home"), "User-Agent", GMAIL_PROXY);
    assertThat(home.statusCode()).isEqualTo(302);
    assertThat(home.headers().firstValue("location")).hasValue("https://shop.example/?utm_source=email");
    assertThat(home.headers().firstValue("cache-control")).hasValueSatisfying(v -> assertThat(v).contains("no-store"));
    HttpResponse<byte[]> sale = get(gw.base() + "/v1/click/" + clickToken("ck-1", "sale"));
    assertThat(sale.statusCode()).isEqualTo(302);
    assertThat(sale.headers().firstValue("location")).hasValue("https://shop.example/sale");

    // No open redirect: unknown ids, unsafe targets in Redis, forged tokens and link-less tokens are all 404s.
    assertThat(get(gw.base() + "/v1/click/" + clickToken("ck-1", "nope")).statusCode()).isEqualTo(404);
    assertThat(get(gw.base() + "/v1/click/" + clickToken("ck-1", "evil")).statusCode()).isEqualTo(404);
    assertThat(get(gw.base() + "/v1/click/" + clickToken("ck-1", "relative")).statusCode()).isEqualTo(404);
    assertThat(get(gw.base() + "/v1/click/" + forge(clickToken("ck-1", "home"))).statusCode()).isEqualTo(404);
    assertThat(get(gw.base() + "/v1/click/" + gw.token("ck-1")).statusCode()).isEqualTo(404); // no link claim
    assertThat(get(gw.base() + "/v1/click/https%3A%2F%2Fevil.example").statusCode()).isEqualTo(404);

    List<ConsumerRecord<String, String>> clicks = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().clicks(), 3, Duration.ofSeconds(10));
    assertThat(clicks).hasSize(2);
    assertThat(clicks).extracting(r -> new JsonObject(r.value()).getString("link")).containsExactlyInAnyOrder("home", "sale");
    assertThat(new JsonObject(clicks.get(0).value()).getString("campaign")).isEqualTo("spring");
  }

  @Test
  void whenLinksCannotBeReadClicksGoToTheFallbackOrAre503() throws Exception {
    ownRedis = EmbeddedRedis.start(0);
    GatewayConfig base = EventsSetup.config(ownRedis.url(), TestKafka.bootstrapServers(),
        Map.of("OPENTIME_LINKS_FALLBACK_URL", "https://shop.example/"));
    start(base);
    ownRedis.kill();
    HttpResponse<byte[]> r = get(gw.base() + "/v1/click/" + clickToken("ck-2", "sale"));
    assertThat(r.statusCode()).isEqualTo(302);
    assertThat(r.headers().firstValue("location")).hasValue("https://shop.example/");
    gw.close();
    gw = null;
    ownRedis.close();
    ownRedis = EmbeddedRedis.start(0);
    start(EventsSetup.config(ownRedis.url(), TestKafka.bootstrapServers(), Map.of()));
    ownRedis.kill();
    HttpResponse<byte[]> unavailable = get(gw.base() + "/v1/click/" + clickToken("ck-2", "sale"));
    assertThat(unavailable.statusCode()).isEqualTo(503);
    assertThat(new String(unavailable.body())).contains("cannot be looked up");
  }

  @Test
  void withoutKafkaThePixelAnswersAndCountsEventsOff() {
    start(io.opentime.support.TestConfig.forRedis(TestRedis.shared().url(), Map.of()));
    assertGif(get(openUrl(gw.token("px-8"))));
    awaitCount(() -> notTracked("open", "events_off"), 1);
    assertThat(Http.get(gw.base() + "/v1/events").statusCode()).isEqualTo(404);
  }

  /** The same token with one character of its signature changed (still well-formed). */
  static String forge(String token) {
    int i = token.length() - 10;
    char c = token.charAt(i) == 'A' ? 'B' : 'A';
    return token.substring(0, i) + c + token.substring(i + 1);
  }

  /** Events are recorded after the answer: waits (bounded) for a count to reach its expected value. */
  static void awaitCount(java.util.function.DoubleSupplier value, double expected) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (value.getAsDouble() < expected && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    assertThat(value.getAsDouble()).isEqualTo(expected);
  }
}
