package io.opentime.demo;

import io.opentime.config.RedisConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo readers. Each shows one behaviour: a full profile, a profile missing a field (its default is used), a
 * profile with hostile characters (escaped in JSON), and a reader with no profile at all (defaults). Every profile
 * also holds fields no block exposes (email, phone), which must never appear in an answer.
 */
public final class DemoData {

  /** A demo reader and what the demo says about it. */
  public record Reader(String uid, String description, Map<String, String> fields) {
  }

  public static final List<Reader> READERS = List.of(
      new Reader("demo-ada", "a gold-tier reader with a full profile",
          fields("first_name", "Ada", "loyalty_tier", "gold", "email", "ada@example.com", "phone", "+44 20 7946 0000")),
      new Reader("demo-bob", "a reader without a loyalty tier: the block default 'member' fills in",
          fields("first_name", "Bob", "email", "bob@example.com")),
      new Reader("demo-zoe", "a profile with markup and quotes in it, escaped in the JSON",
          fields("first_name", "Zoë \"<b>bold</b>\"", "loyalty_tier", "silver", "email", "zoe@example.com")),
      new Reader("demo-nobody", "a reader with no profile in Redis: block defaults", Map.of()),
      new Reader("demo-cart", "left a cart three hours ago: the offer block's cart_abandoned variant",
          fields("first_name", "Carmen", "loyalty_tier", "silver", "cart_updated_at", ago(Duration.ofHours(3)),
              "last_purchase_at", ago(Duration.ofDays(20)))),
      new Reader("demo-lapsed", "last bought 90 days ago: the offer block's lapsed variant",
          fields("first_name", "Luis", "last_purchase_at", ago(Duration.ofDays(90)))));

  /** Readers the demo shows the segmented offer block for. */
  public static final List<String> OFFER_READERS = List.of("demo-cart", "demo-lapsed");

  private static String ago(Duration d) {
    return Instant.now().minus(d).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private DemoData() {
  }

  private static Map<String, String> fields(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  /**
   * Writes the demo profiles, replacing earlier ones, with a short-lived client. One batch on one connection: each
   * DEL must run before its HSET, which separately sent commands on a pooled client do not guarantee.
   */
  public static Future<Void> load(Vertx vertx, RedisConfig config) {
    Redis client = Redis.createClient(vertx, config.url());
    List<Request> writes = new ArrayList<>();
    for (Reader r : READERS) {
      String key = config.profileKey(r.uid());
      writes.add(Request.cmd(Command.DEL).arg(key));
      if (!r.fields().isEmpty()) {
        Request hset = Request.cmd(Command.HSET).arg(key);
        r.fields().forEach((k, v) -> hset.arg(k).arg(v));
        writes.add(hset);
      }
    }
    return client.batch(writes).<Void>mapEmpty().eventually(client::close);
  }
}
