package io.opentime.load;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signed batches for {@code POST /v1/events}: {@code {"events":[...]}} of {@code size} events, a third each
 * {@code attribute} (a new first name), {@code page_view} (a catalog category) and {@code cart_add} (a catalog
 * product), for readers drawn from the same Zipf distribution as the opens, every event with a unique id and the
 * current time. Signed as the gateway verifies: {@code Opentime-Timestamp: <unix seconds>} and
 * {@code Opentime-Signature: <kid>=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>}.
 */
final class EventBatches {

  /** A signed request: the exact body bytes are the signed ones. */
  record Signed(String body, String timestamp, String signature) {
  }

  /** A webhook key, {@code kid:base64secret}. */
  record WebhookKey(String kid, byte[] secret) {

    /** From {@code -Dwebhook.key}, else the environment variable {@code WEBHOOK_KEY}; never from the repository. */
    static WebhookKey fromPropertyOrEnv() {
      String spec = Props.string("webhook.key", System.getenv("WEBHOOK_KEY"));
      if (spec == null || spec.isBlank()) {
        throw new IllegalArgumentException("no webhook key: set -Dwebhook.key=kid:base64secret or the environment "
            + "variable WEBHOOK_KEY (one of the gateway's OPENTIME_WEBHOOK_KEYS)");
      }
      return parse(spec.trim());
    }

    static WebhookKey parse(String spec) {
      int colon = spec.indexOf(':');
      if (colon <= 0 || colon == spec.length() - 1) {
        throw new IllegalArgumentException("webhook.key must be kid:base64secret");
      }
      byte[] secret;
      try {
        secret = Base64.getDecoder().decode(spec.substring(colon + 1));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("webhook.key: the secret is not base64");
      }
      return new WebhookKey(spec.substring(0, colon), secret);
    }
  }

  static final String[] FIRST_NAMES = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken",
      "Frances", "John", "Radia", "Tim"};
  static final int CATEGORIES = 10;      // cat0..cat9, the catalog bench/LoadProfiles.java writes
  static final int PRODUCTS = 20;        // p<c>-0..p<c>-19 per category

  private final WebhookKey key;
  private final String[] uids;
  private final ZipfSampler readers;
  private final int size;
  private final String idPrefix;
  private final AtomicLong ids = new AtomicLong();
  private final SeededStream choice;
  private final ThreadLocal<Mac> macs;

  EventBatches(WebhookKey key, String[] uids, ZipfSampler readers, int size, long seed) {
    this.key = key;
    this.uids = uids;
    this.readers = readers;
    this.size = size;
    // unique across runs too: the gateway keeps ids as idempotency keys
    this.idPrefix = "lt-" + Long.toString(System.currentTimeMillis(), 36) + "-";
    this.choice = new SeededStream(seed * 31 + 7);
    SecretKeySpec spec = new SecretKeySpec(key.secret(), "HmacSHA256");
    this.macs = ThreadLocal.withInitial(() -> {
      try {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(spec);
        return mac;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  String kid() {
    return key.kid();
  }

  /** A new batch, timestamped and signed now. */
  Signed next() {
    long now = System.currentTimeMillis();
    String time = Instant.ofEpochMilli(now).toString();
    StringBuilder body = new StringBuilder(size * 110 + 16).append("{\"events\":[");
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        body.append(',');
      }
      long n = ids.incrementAndGet();
      String uid = uids[readers.next()];
      body.append("{\"id\":").append(json(idPrefix + n))
          .append(",\"uid\":").append(json(uid));
      int type = pick(3);
      int category = pick(CATEGORIES);
      switch (type) {
        case 0 -> body.append(",\"type\":\"attribute\",\"time\":\"").append(time)
            .append("\",\"attributes\":{\"first_name\":").append(json(FIRST_NAMES[pick(FIRST_NAMES.length)]))
            .append("}}");
        case 1 -> body.append(",\"type\":\"page_view\",\"time\":\"").append(time)
            .append("\",\"category\":\"cat").append(category).append("\"}");
        default -> body.append(",\"type\":\"cart_add\",\"time\":\"").append(time)
            .append("\",\"product\":\"p").append(category).append('-').append(pick(PRODUCTS)).append("\"}");
      }
    }
    String raw = body.append("]}").toString();
    String timestamp = Long.toString(now / 1000);
    Mac mac = macs.get();
    mac.update(timestamp.getBytes(StandardCharsets.US_ASCII));
    mac.update((byte) '.');
    byte[] tag = mac.doFinal(raw.getBytes(StandardCharsets.UTF_8));
    return new Signed(raw, timestamp, key.kid() + "=" + HexFormat.of().formatHex(tag));
  }

  private int pick(int n) {
    return (int) (choice.nextDouble() * n);
  }

  /** A JSON string literal. */
  static String json(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
