package io.opentime.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.demo.EmbeddedKafka;
import io.opentime.ops.EventMetrics;
import io.opentime.support.Await;
import io.opentime.support.EventsSetup;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestKafka;
import io.opentime.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code POST /v1/events} against a real Kafka broker: signature, replay window, validation, limits, acks. */
@ExtendWith(VertxExtension.class)
class WebhookTest {

  static final byte[] SECRET = Base64.getDecoder().decode(EventsSetup.WEBHOOK_KEY_SPEC.substring(3));

  Vertx vertx;
  RunningGateway gw;
  EmbeddedKafka ownKafka;

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
  }

  static String sign(long timestamp, String body, byte[] secret) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret, "HmacSHA256"));
    return "w1=" + HexFormat.of().formatHex(mac.doFinal((timestamp + "." + body).getBytes(StandardCharsets.UTF_8)));
  }

  HttpResponse<String> post(String body, long timestamp, String signature) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.base() + "/v1/events"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (timestamp > 0) {
      b.header("Opentime-Timestamp", Long.toString(timestamp));
    }
    if (signature != null) {
      b.header("Opentime-Signature", signature);
    }
    return Http.send(b.build());
  }

  HttpResponse<String> post(String body) throws Exception {
    long now = Instant.now().getEpochSecond();
    return post(body, now, sign(now, body, SECRET));
  }

  static JsonObject attribute(String id, String uid, String name) {
    return new JsonObject().put("id", id).put("uid", uid).put("type", "attribute")
        .put("time", Instant.now().minusSeconds(5).toString())
        .put("attributes", new JsonObject().put("first_name", name));
  }

  static String batch(JsonObject... events) {
    return new JsonObject().put("events", new JsonArray(List.of((Object[]) events))).encode();
  }

  @Test
  void aSignedValidBatchIsAcceptedAfterKafkaAcknowledgedItAndApplied() throws Exception {
    gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    gw.putProfile("wh-1", Map.of("first_name", "Ada"));
    assertThat(gw.greeting("wh-1").body()).contains("Ada");
    HttpResponse<String> r = post(batch(attribute("w1", "wh-1", "Bea"), attribute("w2", "wh-2", "Cleo")));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
    assertThat(new JsonObject(r.body()).getInteger("accepted")).isEqualTo(2);
    // 202 came after the acks: both events are on the topic now, keyed by uid.
    List<ConsumerRecord<String, String>> on = EventsSetup.read(TestKafka.bootstrapServers(),
        gw.config.events().kafka().topics().profileEvents(), 2, Duration.ofSeconds(5));
    assertThat(on).extracting(ConsumerRecord::key).containsExactlyInAnyOrder("wh-1", "wh-2");
    Await.until("the update shows", Duration.ofSeconds(30), () -> gw.greeting("wh-1").body().contains("Bea"));
  }

  @Test
  void forgedStaleReplayedAndUnsignedRequestsAreRefused() throws Exception {
    gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    String body = batch(attribute("f1", "wh-3", "Eve"));
    long now = Instant.now().getEpochSecond();
    assertThat(post(body, 0, null).statusCode()).isEqualTo(401);
    assertThat(post(body, now, sign(now, body, new byte[32])).statusCode()).isEqualTo(401);
    assertThat(post(body, now, sign(now, body + " ", SECRET)).statusCode()).isEqualTo(401);
    assertThat(post(body, now, "w9=" + sign(now, body, SECRET).substring(3)).statusCode()).isEqualTo(401);
    assertThat(post(body, now, "w1=zz").statusCode()).isEqualTo(401);
    long old = now - 600;
    HttpResponse<String> stale = post(body, old, sign(old, body, SECRET));
    assertThat(stale.statusCode()).isEqualTo(401);
    assertThat(stale.body()).contains("timestamp");
    String sig = sign(now, body, SECRET);
    assertThat(post(body, now, sig).statusCode()).isEqualTo(202);
    HttpResponse<String> replay = post(body, now, sig);
    assertThat(replay.statusCode()).isEqualTo(409);
    assertThat(gw.counter(EventMetrics.WEBHOOK, "outcome", "bad_signature")).isEqualTo(5);
    assertThat(gw.counter(EventMetrics.WEBHOOK, "outcome", "stale_timestamp")).isEqualTo(1);
    assertThat(gw.counter(EventMetrics.WEBHOOK, "outcome", "replayed")).isEqualTo(1);
  }

  @Test
  void invalidEventsAreListedByIndexAndNothingIsSent() throws Exception {
    gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    JsonObject good = attribute("v1", "wh-4", "Ada");
    JsonObject noTime = attribute("v2", "wh-4", "Ada");
    noTime.remove("time");
    JsonObject email = attribute("v3", "someone@example.com", "Ada");
    HttpResponse<String> r = post(batch(good, noTime, email));
    assertThat(r.statusCode()).isEqualTo(400);
    JsonObject answer = new JsonObject(r.body());
    assertThat(answer.getString("error")).contains("2 of 3");
    JsonArray errors = answer.getJsonArray("events");
    assertThat(errors).hasSize(2);
    assertThat(errors.getJsonObject(0).getInteger("index")).isEqualTo(1);
    assertThat(errors.getJsonObject(0).getString("error")).contains("time");
    assertThat(errors.getJsonObject(1).getInteger("index")).isEqualTo(2);
    assertThat(errors.getJsonObject(1).getString("error")).contains("uid");
    assertThat(post("not json").statusCode()).isEqualTo(400);
    assertThat(post("{\"events\": []}").statusCode()).isEqualTo(400);
    assertThat(post("{\"events\": [1]}").statusCode()).isEqualTo(400);
    assertThat(EventsSetup.read(TestKafka.bootstrapServers(), gw.config.events().kafka().topics().profileEvents(), 1,
        Duration.ofSeconds(2))).isEmpty();
  }

  @Test
  void batchesOverTheLimitsAre413() throws Exception {
    gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    JsonObject[] many = new JsonObject[501];
    for (int i = 0; i < many.length; i++) {
      many[i] = attribute("m" + i, "wh-5", "A");
    }
    HttpResponse<String> tooMany = post(batch(many));
    assertThat(tooMany.statusCode()).isEqualTo(413);
    assertThat(tooMany.body()).contains("1 to 500");
    String huge = "{\"events\":[" + "\"" + "x".repeat(1_100_000) + "\"]}";
    assertThat(post(huge).statusCode()).isEqualTo(413);
  }

  @Test
  void whenKafkaCannotAcknowledgeTheAnswerIs503AndARetrySucceeds() throws Exception {
    ownKafka = EmbeddedKafka.start(0);
    ownKafka.createTopics(1, "pe-webhook");
    var base = EventsSetup.config(TestRedis.shared().url(), ownKafka.bootstrapServers(),
        Map.of(), new io.opentime.config.KafkaConfig.Topics("pe-webhook", "o", "c", "d"), "webhook-outage");
    var wh = base.events().webhook();
    gw = new RunningGateway(vertx, base.withEvents(base.events()
        .withUpdater(new io.opentime.config.UpdaterConfig(false, 1, "g", 10, Duration.ofSeconds(1), Duration.ofSeconds(1), "c"))
        .withWebhook(new io.opentime.config.WebhookConfig(wh.keys(), wh.maxEvents(), wh.maxBodyBytes(),
            wh.replayWindow(), Duration.ofSeconds(1)))));
    String body = batch(attribute("k1", "wh-6", "Ada"));
    assertThat(post(body).statusCode()).isEqualTo(202);
    ownKafka.stop();
    HttpResponse<String> down = post(batch(attribute("k2", "wh-6", "Bea")));
    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(down.headers().firstValue("retry-after")).hasValue("5");
    ownKafka.restart();
    Await.until("a retry accepted", Duration.ofSeconds(60), () -> {
      try {
        return post(batch(attribute("k2", "wh-6", "Bea"))).statusCode() == 202;
      } catch (Exception e) {
        return false;
      }
    });
  }
}
