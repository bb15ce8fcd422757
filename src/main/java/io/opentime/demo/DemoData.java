package io.opentime.demo;

import io.opentime.config.RedisConfig;
import io.opentime.profile.RedisEndpoints;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo readers. Each shows one behaviour: a full profile, a profile missing a field (its default is used), a
 * profile with hostile characters (escaped in JSON), a reader with no profile at all (defaults), readers in segments,
 * and a small catalog for recommendations. Every profile also holds fields no block exposes (email, phone), which
 * must never appear in an answer.
 */
public final class DemoData {

  /** A demo reader and what the demo says about it. */
  public record Reader(String uid, String description, Map<String, String> fields) {
  }

  /** The demo click link: its id (in the click token) and target (in the Redis links hash). */
  public static final String SALE_LINK = "sale";
  public static final String SALE_TARGET = "https://shop.opentime.example/sale";

  public static final List<Reader> READERS = List.of(
      new Reader("demo-ada", "a gold-tier reader with a full profile",
          fields("first_name", "Ada", "loyalty_tier", "gold", "email", "ada@example.com", "phone", "+44 20 7946 0000",
              "recent_categories", "shoes,bags", "purchased", "shoe-1")),
      new Reader("demo-bob", "a reader without a loyalty tier: the block default 'member' fills in",
          fields("first_name", "Bob", "email", "bob@example.com")),
      new Reader("demo-zoe", "a profile with markup and quotes in it, escaped in the JSON",
          fields("first_name", "Zoë \"<b>bold</b>\"", "loyalty_tier", "silver", "email", "zoe@example.com")),
      new Reader("demo-nobody", "a reader with no profile in Redis: block defaults", Map.of()),
      new Reader("demo-cart", "left a cart three hours ago: the offer block's cart_abandoned variant",
          fields("first_name", "Carmen", "loyalty_tier", "silver", "cart_updated_at", ago(Duration.ofHours(3)),
              "last_purchase_at", ago(Duration.ofDays(20)))),
      new Reader("demo-champion", "bought 10 days ago, 7 orders and 900 spent this year: the champions variant",
          fields("first_name", "Chiara", "last_purchase_at", ago(Duration.ofDays(10)), "orders_365d", "7",
              "spend_365d", "900")),
      new Reader("demo-browser", "viewed bags 5 hours ago, bought nothing since: the browsed_not_bought variant",
          fields("first_name", "Bea", "last_view_at", ago(Duration.ofHours(5)), "last_view_category", "bags",
              "last_purchase_at", ago(Duration.ofDays(30)))),
      new Reader("demo-lapsed", "last bought 90 days ago: the offer block's lapsed variant",
          fields("first_name", "Luis", "last_purchase_at", ago(Duration.ofDays(90)))),
      new Reader("demo-fan", "engagement score 82, in no other segment: the engaged variant",
          fields("first_name", "Femi", "engagement_score", "82")));

  /** Readers the demo shows the segmented offer block for, one per segment. */
  public static final List<String> OFFER_READERS =
      List.of("demo-cart", "demo-champion", "demo-browser", "demo-lapsed", "demo-fan");

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

  /** The demo catalog: product id, name, price, category, rank score (higher first). */
  private static final String[][] PRODUCTS = {
      {"shoe-1", "Trail runner", "€120.00", "shoes", "95"},
      {"shoe-2", "City sneaker", "€89.00", "shoes", "90"},
      {"shoe-3", "Suede loafer", "€140.00", "shoes", "70"},
      {"bag-1", "Canvas tote", "€45.00", "bags", "80"},
      {"bag-2", "Leather backpack", "€210.00", "bags", "60"},
      {"hat-1", "Wool beanie", "€25.00", "hats", "50"}};
  private static final List<String> BESTSELLERS = List.of("hat-1", "shoe-2", "bag-1");

  /**
   * Writes the demo profiles and catalog, replacing earlier ones, with a short-lived client: one command after the
   * other on one connection, as each DEL must run before its HSET (a batch would not do in Cluster mode, where the
   * keys live in different slots).
   */
  public static Future<Void> load(Vertx vertx, RedisConfig config, String linksHash) {
    Redis client = Redis.createClient(vertx, new RedisEndpoints(config).writes("demo-data"));
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
    for (String[] p : PRODUCTS) {
      writes.add(Request.cmd(Command.HSET).arg("product:" + p[0]).arg("name").arg(p[1]).arg("price").arg(p[2])
          .arg("image").arg("https://img.opentime.example/" + p[0] + ".jpg")
          .arg("url").arg("https://shop.opentime.example/p/" + p[0]));
      writes.add(Request.cmd(Command.ZADD).arg("catalog:category:" + p[3]).arg(p[4]).arg(p[0]));
    }
    // Click targets: the demo's click token names the link id "sale", looked up in this hash.
    writes.add(Request.cmd(Command.HSET).arg(linksHash).arg(SALE_LINK).arg(SALE_TARGET));
    writes.add(Request.cmd(Command.DEL).arg("catalog:bestsellers"));
    for (int i = 0; i < BESTSELLERS.size(); i++) {
      writes.add(Request.cmd(Command.ZADD).arg("catalog:bestsellers").arg(BESTSELLERS.size() - i).arg(BESTSELLERS.get(i)));
    }
    return client.connect().compose(connection -> {
      Future<Response> done = Future.succeededFuture();
      for (Request write : writes) {
        done = done.compose(previous -> connection.send(write));
      }
      return done.eventually(connection::close);
    }).<Void>mapEmpty().eventually(client::close);
  }
}
