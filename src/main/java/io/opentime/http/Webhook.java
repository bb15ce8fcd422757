package io.opentime.http;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.opentime.GatewayServices;
import io.opentime.config.WebhookConfig;
import io.opentime.events.EventPublisher;
import io.opentime.events.InvalidEventException;
import io.opentime.events.ProfileEvent;
import io.opentime.ops.EventMetrics;
import io.opentime.token.TokenKey;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/events}: a signed batch of profile events from a source that cannot write to Kafka.
 *
 * <p>The request carries {@code Opentime-Timestamp} (Unix seconds) and {@code Opentime-Signature: <kid>=<hex>}, the
 * HMAC-SHA256 of {@code "<timestamp>.<body>"} with that webhook key. A request is refused (401) when the signature
 * does not verify or the timestamp is outside the replay window, and (409) when the same signed request was already
 * accepted within that window. The body is {@code {"events": [...]}}; every event is validated and, if any is
 * invalid, nothing is sent and the answer (400) lists each invalid event by index. A valid batch answers 202 only
 * once Kafka acknowledged every event; otherwise 503, and the sender retries (events are idempotent by id).
 */
final class Webhook {

  private static final Logger LOG = LoggerFactory.getLogger(Webhook.class);
  static final String PATH = "/v1/events";
  static final String TIMESTAMP_HEADER = "Opentime-Timestamp";
  static final String SIGNATURE_HEADER = "Opentime-Signature";

  private final GatewayServices services;
  private final WebhookConfig config;
  private final EventMetrics metrics;
  private final Clock clock;
  private final Map<String, SecretKeySpec> keys = new HashMap<>();
  private final Cache<String, Boolean> accepted;

  Webhook(GatewayServices services, Clock clock) {
    this.services = services;
    this.config = services.config().events().webhook();
    this.metrics = services.eventMetrics();
    this.clock = clock;
    for (TokenKey k : config.keys().keys()) {
      keys.put(k.kid(), new SecretKeySpec(k.secret(), "HmacSHA256"));
    }
    this.accepted = Caffeine.newBuilder()
        .maximumSize(100_000)
        .expireAfterWrite(config.replayWindow().multipliedBy(2))
        .build();
  }

  void handle(RoutingContext ctx) {
    Buffer body = ctx.body().buffer();
    if (body == null) {
      body = Buffer.buffer();
    }
    String timestamp = ctx.request().getHeader(TIMESTAMP_HEADER);
    String signature = ctx.request().getHeader(SIGNATURE_HEADER);
    String problem = authenticate(timestamp, signature, body);
    if (problem != null) {
      refuse(ctx, 401, problem.startsWith("timestamp") ? "stale_timestamp" : "bad_signature",
          new JsonObject().put("error", problem));
      return;
    }
    if (accepted.getIfPresent(signature) != null) {
      refuse(ctx, 409, "replayed", new JsonObject().put("error",
          "this signed request was already accepted; sign a new request (with a new timestamp) to send again"));
      return;
    }
    JsonArray raw;
    try {
      JsonObject doc = new JsonObject(body);
      Object events = doc.getValue("events");
      if (!(events instanceof JsonArray arr) || doc.size() != 1) {
        throw new DecodeException("the body must be {\"events\": [...]}");
      }
      raw = arr;
    } catch (DecodeException | ClassCastException e) {
      refuse(ctx, 400, "invalid", new JsonObject().put("error", "the body must be a JSON object {\"events\": [...]}"));
      return;
    }
    if (raw.isEmpty() || raw.size() > config.maxEvents()) {
      refuse(ctx, raw.isEmpty() ? 400 : 413, raw.isEmpty() ? "invalid" : "too_large", new JsonObject().put("error",
          "a batch holds 1 to " + config.maxEvents() + " events (got " + raw.size() + ")"));
      return;
    }
    Instant now = clock.instant();
    List<ProfileEvent> events = new ArrayList<>(raw.size());
    JsonArray errors = new JsonArray();
    for (int i = 0; i < raw.size(); i++) {
      Object item = raw.getValue(i);
      try {
        if (!(item instanceof JsonObject o)) {
          throw new InvalidEventException("an event must be a JSON object");
        }
        events.add(ProfileEvent.fromJson(o, now));
      } catch (InvalidEventException e) {
        errors.add(new JsonObject().put("index", i).put("error", e.getMessage()));
      }
    }
    if (!errors.isEmpty()) {
      refuse(ctx, 400, "invalid", new JsonObject()
          .put("error", errors.size() + " of " + raw.size() + " events are invalid; nothing was accepted")
          .put("events", errors));
      return;
    }
    EventPublisher publisher = services.publisher();
    String topic = services.config().events().kafka().topics().profileEvents();
    List<Future<Void>> acks = new ArrayList<>(events.size());
    for (ProfileEvent e : events) {
      acks.add(publisher.send(topic, e.uid(), e.toJson().toBuffer().getBytes()));
    }
    Future.all(acks)
        .timeout(config.ackTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .onComplete(ar -> {
          if (ar.succeeded()) {
            accepted.put(signature, Boolean.TRUE);
            metrics.webhook("accepted", events.size());
            reply(ctx, 202, new JsonObject().put("accepted", events.size()));
          } else {
            LOG.warn("webhook batch of {} events not acknowledged by Kafka: {}", events.size(), ar.cause().toString());
            ctx.response().putHeader(HttpHeaders.RETRY_AFTER, "5");
            refuse(ctx, 503, "kafka_unavailable", new JsonObject().put("error",
                "Kafka did not acknowledge the batch in time; retry it (events are applied once per id)"));
          }
        });
  }

  /** Null when the request is authentic and fresh, else what is wrong with it (safe to tell the caller). */
  private String authenticate(String timestamp, String signature, Buffer body) {
    if (timestamp == null || signature == null) {
      return "missing " + TIMESTAMP_HEADER + " or " + SIGNATURE_HEADER + " header";
    }
    long ts;
    try {
      ts = Long.parseLong(timestamp.trim());
    } catch (NumberFormatException e) {
      return "timestamp: " + TIMESTAMP_HEADER + " must be Unix seconds";
    }
    long skew = Math.abs(clock.instant().getEpochSecond() - ts);
    if (skew > config.replayWindow().toSeconds()) {
      return "timestamp: " + TIMESTAMP_HEADER + " is more than " + config.replayWindow().toSeconds()
          + " s from the gateway's clock";
    }
    int eq = signature.indexOf('=');
    SecretKeySpec key = eq <= 0 ? null : keys.get(signature.substring(0, eq).trim());
    if (key == null) {
      return SIGNATURE_HEADER + " must be <kid>=<hex HMAC-SHA256> with a known key id";
    }
    byte[] presented;
    try {
      presented = HexFormat.of().parseHex(signature.substring(eq + 1).trim());
    } catch (IllegalArgumentException e) {
      return SIGNATURE_HEADER + ": the signature is not hex";
    }
    byte[] expected;
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      mac.update(timestamp.trim().getBytes(StandardCharsets.US_ASCII));
      mac.update((byte) '.');
      mac.update(body.getBytes());
      expected = mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
    return MessageDigest.isEqual(expected, presented) ? null : "bad signature";
  }

  private void refuse(RoutingContext ctx, int status, String outcome, JsonObject body) {
    metrics.webhook(outcome, 0);
    reply(ctx, status, body);
  }

  private static void reply(RoutingContext ctx, int status, JsonObject body) {
    if (ctx.response().ended() || ctx.response().closed()) {
      return;
    }
    ctx.response().setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(body.encode());
  }
}
