package io.opentime.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import io.opentime.config.RedisConfig;
import io.opentime.events.ProfileEvent.AttributeChange;
import io.opentime.events.ProfileEvent.CartAdd;
import io.opentime.events.ProfileEvent.CartRemove;
import io.opentime.events.ProfileEvent.Consent;
import io.opentime.events.ProfileEvent.Erasure;
import io.opentime.events.ProfileEvent.PageView;
import io.opentime.events.ProfileEvent.Payload;
import io.opentime.events.ProfileEvent.Purchase;
import io.opentime.events.ProfileEvent.Type;
import io.opentime.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The apply script against the run's shared Redis: each event type's effect on the hash, last-write-wins, replays,
 * order independence (a seeded generator), the erasure tombstone, NOSCRIPT recovery, invalidation messages, and a
 * throughput figure. Every test writes under its own key prefix.
 */
class ProfileWriterTest {

  static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");
  static final String UID = "r-1";
  static final String CHANNEL = "opentime:test:invalidate:" + System.nanoTime();

  static Vertx vertx;
  static String url;
  static RedisConnection redis;

  String prefix;
  ProfileWriter writer;

  @BeforeAll
  static void connect() {
    vertx = Vertx.vertx();
    url = "redis://127.0.0.1:" + TestRedis.shared().port();
    redis = await(Redis.createClient(vertx, url).connect());
  }

  @AfterAll
  static void close() {
    await(redis.close());
    await(vertx.close());
  }

  @BeforeEach
  void freshPrefix() {
    prefix = "pw-" + System.nanoTime() + ":";
    writer = new ProfileWriter(prefix, CHANNEL, redis::send);
  }

  // ------------------------------------------------------------------------------------------------------ helpers

  static <T> T await(Future<T> future) {
    try {
      return future.await(20, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("no answer within 20 s", e);
    }
  }

  static Instant minute(double minutes) {
    return T0.plusMillis(Math.round(minutes * 60_000));
  }

  static Instant day(int days) {
    return T0.plus(Duration.ofDays(days));
  }

  static ProfileEvent event(String id, Instant time, Payload payload) {
    return new ProfileEvent(id, UID, time, payload);
  }

  static Purchase purchase(String order, String amount, String... products) {
    return new Purchase(order, List.of(products), new BigDecimal(amount));
  }

  static AttributeChange attributes(String... namesAndValues) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      map.put(namesAndValues[i], namesAndValues[i + 1]);
    }
    return new AttributeChange(map);
  }

  ApplyResult apply(ProfileEvent e) {
    return await(writer.apply(e));
  }

  Map<String, String> hash(String uid) {
    return hgetall(RedisConfig.profileKey(prefix, uid));
  }

  static Map<String, String> hgetall(String key) {
    Response r = await(redis.send(Request.cmd(Command.HGETALL).arg(key)));
    Map<String, String> map = new TreeMap<>();
    for (String field : r.getKeys()) {
      map.put(field, r.get(field).toString());
    }
    return map;
  }

  /** The fields the gateway reads (no bookkeeping). */
  Map<String, String> visible(String uid) {
    Map<String, String> map = new TreeMap<>(hash(uid));
    map.keySet().removeIf(f -> f.startsWith("~"));
    return map;
  }

  // ---------------------------------------------------------------------------------------------- event types

  @Test
  @DisplayName("page_view: last view is last-write-wins; recent categories ordered by each category's newest view")
  void pageView() {
    ProfileEvent shoes = event("e1", minute(10), new PageView("shoes", "sku-1"));
    ProfileEvent hats = event("e2", minute(5), new PageView("hats", null));
    assertThat(apply(shoes)).isEqualTo(ApplyResult.CHANGED);
    assertThat(apply(hats)).isEqualTo(ApplyResult.CHANGED); // older: only its category mark
    assertThat(hash(UID)).containsExactly(
        entry("last_view_at", "2026-03-01T10:10:00Z"),
        entry("last_view_category", "shoes"),
        entry("recent_categories", "shoes,hats"),
        entry("~c:hats", hats.version()),
        entry("~c:shoes", shoes.version()),
        entry("~v:last_view", shoes.version()));
    assertThat(apply(event("e3", minute(1), new PageView("shoes", null)))).isEqualTo(ApplyResult.UNCHANGED);
    ProfileEvent hatsAgain = event("e4", minute(20.5), new PageView("hats", null));
    assertThat(apply(hatsAgain)).isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).containsExactly(
        entry("last_view_at", "2026-03-01T10:20:30Z"),
        entry("last_view_category", "hats"),
        entry("recent_categories", "hats,shoes"));
    assertThat(hash(UID)).containsEntry("~c:hats", hatsAgain.version());
  }

  @Test
  @DisplayName("page_view: 10 recent categories are shown and the 50 newest category marks are kept")
  void categoriesCapped() {
    for (int i = 0; i < 60; i++) { // in order: each view is the newest
      apply(new ProfileEvent("v" + i, "in-order", minute(i), new PageView(String.format("c%02d", i), null)));
    }
    for (int i = 59; i >= 0; i--) { // newest first: every later arrival is older
      apply(new ProfileEvent("v" + i, "reversed", minute(i), new PageView(String.format("c%02d", i), null)));
    }
    for (String uid : List.of("in-order", "reversed")) {
      Map<String, String> hash = hash(uid);
      assertThat(hash.keySet().stream().filter(f -> f.startsWith("~c:"))).as(uid).hasSize(50)
          .doesNotContain("~c:c09").contains("~c:c10", "~c:c59");
      assertThat(hash).as(uid).containsEntry("recent_categories", "c59,c58,c57,c56,c55,c54,c53,c52,c51,c50")
          .containsEntry("last_view_category", "c59");
      assertThat(apply(new ProfileEvent("v0", uid, minute(0), new PageView("c00", null))))
          .isEqualTo(ApplyResult.UNCHANGED);
    }
  }

  @Test
  @DisplayName("cart_add/cart_remove: last write wins per product; the cart lists products newest first")
  void cart() {
    apply(event("a1", minute(1), new CartAdd("a")));
    ProfileEvent addB = event("b2", minute(2), new CartAdd("b"));
    apply(addB);
    assertThat(visible(UID)).containsExactly(
        entry("cart_items", "b,a"), entry("cart_updated_at", "2026-03-01T10:02:00Z"));
    assertThat(hash(UID)).containsEntry("~k:b", addB.version() + "+");

    ProfileEvent removeB = event("b3", minute(3), new CartRemove("b"));
    assertThat(apply(removeB)).isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).containsExactly(
        entry("cart_items", "a"), entry("cart_updated_at", "2026-03-01T10:01:00Z"));
    assertThat(hash(UID)).containsEntry("~k:b", removeB.version() + "-");

    assertThat(apply(event("b0", minute(0), new CartAdd("b")))).isEqualTo(ApplyResult.UNCHANGED);
    assertThat(apply(event("a4", minute(4), new CartRemove("a")))).isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).as("an empty cart has neither field").isEmpty();
  }

  @Test
  @DisplayName("cart: at most 50 items are listed and the 100 newest product marks are kept")
  void cartCapped() {
    for (int i = 0; i < 120; i++) {
      apply(event("k" + i, minute(i), new CartAdd("p" + i)));
    }
    Map<String, String> hash = hash(UID);
    assertThat(hash.keySet().stream().filter(f -> f.startsWith("~k:"))).hasSize(100).doesNotContain("~k:p19");
    assertThat(hash.get("cart_items").split(",")).hasSize(50).startsWith("p119", "p118").endsWith("p70");
    assertThat(hash).containsEntry("cart_updated_at", minute(119).toString());

    apply(event("r", minute(200), new CartRemove("p119"))); // the first item not shown moves up
    assertThat(hash(UID).get("cart_items").split(",")).hasSize(50).startsWith("p118").endsWith("p69");
    assertThat(hash(UID)).containsEntry("cart_updated_at", minute(118).toString());
  }

  @Test
  @DisplayName("purchase: records the order, takes its products out of the cart if newer, lists purchased products")
  void purchaseAndCart() {
    apply(event("c1", minute(1), new CartAdd("a")));
    apply(event("c2", minute(2), new CartAdd("b")));
    apply(event("c3", minute(10), new CartAdd("c")));
    ProfileEvent order1 = event("p5", minute(5), purchase("o-1", "30", "a", "b"));
    assertThat(apply(order1)).isEqualTo(ApplyResult.CHANGED);
    assertThat(hash(UID)).contains(
        entry("cart_items", "c"),
        entry("cart_updated_at", "2026-03-01T10:10:00Z"),
        entry("last_purchase_at", "2026-03-01T10:05:00Z"),
        entry("orders_365d", "1"),
        entry("spend_365d", "30"),
        entry("purchased", "a,b"),
        entry("~o:o-1", order1.version() + "|30|a,b"),
        entry("~k:a", order1.version() + "-"));

    apply(event("c6", minute(6), new CartAdd("a"))); // bought again later: back in the cart
    apply(event("c20", minute(20), new CartAdd("d")));
    apply(event("p15", minute(15), purchase("o-2", "12.5", "d", "a"))); // older than the add of d: d stays
    assertThat(visible(UID)).containsExactly(
        entry("cart_items", "d,c"),
        entry("cart_updated_at", "2026-03-01T10:20:00Z"),
        entry("last_purchase_at", "2026-03-01T10:15:00Z"),
        entry("orders_365d", "2"),
        entry("purchased", "d,a,b"),
        entry("spend_365d", "42.5"));
  }

  @Test
  @DisplayName("purchase: orders more than 365 days before the newest are pruned, and ignored when they arrive")
  void window365Days() {
    apply(event("o1", day(0), purchase("o-1", "10", "p1")));
    apply(event("o2", day(200), purchase("o-2", "20", "p2")));
    assertThat(visible(UID)).contains(entry("orders_365d", "2"), entry("spend_365d", "30"),
        entry("purchased", "p2,p1"));

    apply(event("o3", day(400), purchase("o-3", "5", "p3")));
    assertThat(hash(UID)).doesNotContainKey("~o:o-1").containsKeys("~o:o-2", "~o:o-3");
    assertThat(visible(UID)).contains(entry("orders_365d", "2"), entry("spend_365d", "25"),
        entry("purchased", "p3,p2"), entry("last_purchase_at", day(400).toString()));

    // older than the window (and its only product has a newer cart mark): nothing changes
    assertThat(apply(event("o4", day(10), purchase("o-4", "99", "p3")))).isEqualTo(ApplyResult.UNCHANGED);
    assertThat(hash(UID)).doesNotContainKey("~o:o-4");

    // exactly 365 days before the newest order is inside the window
    apply(event("o5", day(35), purchase("o-5", "1", "p5")));
    assertThat(visible(UID)).contains(entry("orders_365d", "3"), entry("spend_365d", "26"),
        entry("purchased", "p3,p2,p5"));
  }

  @Test
  @DisplayName("purchase: money is summed in cents (each amount rounded half up), shown with up to 2 decimals")
  void money() {
    apply(event("m1", minute(1), purchase("o-1", "0.1", "a")));
    apply(event("m2", minute(2), purchase("o-2", "0.2", "a")));
    assertThat(hash(UID)).containsEntry("spend_365d", "0.3");
    ProfileEvent m3 = event("m3", minute(3), purchase("o-3", "19.995", "a"));
    apply(m3);
    apply(event("m4", minute(4), purchase("o-4", "0.004", "a")));
    assertThat(hash(UID)).containsEntry("spend_365d", "20.3").containsEntry("~o:o-3", m3.version() + "|19.995|a");
    apply(event("m5", minute(5), purchase("o-5", "1000000000", "a")));
    assertThat(hash(UID)).containsEntry("spend_365d", "1000000020.3").containsEntry("orders_365d", "5");
  }

  @Test
  @DisplayName("purchase: a later event for the same order replaces it; an earlier one is ignored")
  void orderReplaced() {
    apply(event("r1", minute(1), purchase("o-1", "10", "a")));
    apply(event("r2", minute(2), purchase("o-1", "12", "a", "b")));
    assertThat(apply(event("r0", minute(0), purchase("o-1", "99", "a")))).isEqualTo(ApplyResult.UNCHANGED);
    assertThat(visible(UID)).contains(entry("orders_365d", "1"), entry("spend_365d", "12"),
        entry("purchased", "a,b"), entry("last_purchase_at", "2026-03-01T10:02:00Z"));
  }

  @Test
  @DisplayName("attribute: last write wins per field; null deletes but keeps the version (no older set resurrects it)")
  void attribute() {
    ProfileEvent set = event("a1", minute(1), attributes("first_name", "Ada", "loyalty_tier", "gold"));
    apply(set);
    assertThat(hash(UID)).containsExactly(
        entry("first_name", "Ada"), entry("loyalty_tier", "gold"),
        entry("~v:first_name", set.version()), entry("~v:loyalty_tier", set.version()));

    ProfileEvent delete = event("a3", minute(3), attributes("first_name", null));
    assertThat(apply(delete)).isEqualTo(ApplyResult.CHANGED);
    assertThat(hash(UID)).doesNotContainKey("first_name").containsEntry("~v:first_name", delete.version());
    assertThat(apply(event("a2", minute(2), attributes("first_name", "Augusta")))).isEqualTo(ApplyResult.UNCHANGED);
    assertThat(hash(UID)).doesNotContainKey("first_name");

    assertThat(apply(event("a25", minute(2.5), attributes("first_name", "Old", "loyalty_tier", "silver"))))
        .isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).containsExactly(entry("loyalty_tier", "silver"));
    apply(event("a4", minute(4), attributes("first_name", "Grace", "city", "")));
    assertThat(visible(UID)).containsExactly(
        entry("city", ""), entry("first_name", "Grace"), entry("loyalty_tier", "silver"));
  }

  @Test
  @DisplayName("consent: each flag is last-write-wins, stored as true/false")
  void consent() {
    apply(event("k1", minute(1), new Consent(true, null)));
    apply(event("k2", minute(2), new Consent(null, false)));
    assertThat(visible(UID)).containsExactly(
        entry("consent_personalization", "false"), entry("consent_tracking", "true"));
    assertThat(apply(event("k0", minute(0), new Consent(false, true)))).isEqualTo(ApplyResult.UNCHANGED);
    apply(event("k3", minute(3), new Consent(false, null)));
    assertThat(visible(UID)).containsExactly(
        entry("consent_personalization", "false"), entry("consent_tracking", "false"));
  }

  @Test
  @DisplayName("versions of the same millisecond are ordered by id, byte by byte (never by the server's locale)")
  void tiesByIdBytes() {
    Instant t = minute(1);
    List<ProfileEvent> events = List.of(
        new ProfileEvent("B", "tie-1", t, new PageView("upper", null)),
        new ProfileEvent("a", "tie-1", t, new PageView("lower", null)),
        new ProfileEvent("z", "tie-1", t, new PageView("zed", null)),
        new ProfileEvent("\u00e9", "tie-1", t, new PageView("accent", null)));
    events.forEach(this::apply);
    assertThat(hash("tie-1")).containsEntry("last_view_category", "accent")
        .containsEntry("recent_categories", "accent,zed,lower,upper");
  }

  @Test
  @DisplayName("times the script derives (cart, purchase) are formatted exactly as Instant#toString")
  void derivedTimesMatchInstant() {
    List<Instant> times = new ArrayList<>(List.of(
        Instant.parse("2000-01-01T00:00:00Z"), Instant.parse("2000-02-29T23:59:59.999Z"),
        Instant.parse("2024-02-29T12:00:00.120Z"), Instant.parse("2026-12-31T23:59:59.001Z"),
        Instant.parse("2100-03-01T00:00:00.100Z"), Instant.parse("2399-12-31T23:59:59.500Z")));
    Random random = new Random(20261122);
    long start = ProfileEvent.EARLIEST.toEpochMilli();
    for (int i = 0; i < 300; i++) {
      times.add(Instant.ofEpochMilli(start + (long) (random.nextDouble() * 200 * 365.25 * 86_400_000)));
    }
    List<Future<ApplyResult>> sent = new ArrayList<>();
    for (int i = 0; i < times.size(); i++) {
      sent.add(writer.apply(new ProfileEvent("c", "t" + i, times.get(i), new CartAdd("x"))));
      sent.add(writer.apply(new ProfileEvent("p", "t" + i, times.get(i), purchase("o", "1", "y"))));
    }
    await(Future.all(sent));
    for (int i = 0; i < times.size(); i++) {
      Map<String, String> hash = hash("t" + i);
      assertThat(hash.get("cart_updated_at")).as("cart_updated_at").isEqualTo(times.get(i).toString());
      assertThat(hash.get("last_purchase_at")).as("last_purchase_at").isEqualTo(times.get(i).toString());
    }
  }

  // ------------------------------------------------------------------------------------------- replays, erasure

  @Test
  @DisplayName("a replayed event changes nothing and answers UNCHANGED")
  void replays() {
    List<ProfileEvent> events = List.of(
        event("r1", minute(1), new PageView("shoes", null)),
        event("r2", minute(2), new CartAdd("a")),
        event("r3", minute(3), new CartRemove("a")),
        event("r4", minute(4), purchase("o-1", "9.99", "a", "b")),
        event("r5", minute(5), attributes("first_name", "Ada", "city", null)),
        event("r6", minute(6), new Consent(true, false)));
    for (ProfileEvent e : events) {
      assertThat(apply(e)).as(e.payload().type().wireName()).isEqualTo(ApplyResult.CHANGED);
    }
    Map<String, String> once = hash(UID);
    for (ProfileEvent e : events) {
      assertThat(apply(e)).as(e.payload().type().wireName()).isEqualTo(ApplyResult.UNCHANGED);
    }
    assertThat(hash(UID)).isEqualTo(once);
  }

  @Test
  @DisplayName("erasure: deletes the profile and leaves a tombstone; older events are refused, newer ones apply")
  void tombstone() {
    await(redis.send(Request.cmd(Command.HSET).arg(RedisConfig.profileKey(prefix, UID)).arg("first_name").arg("Legacy")));
    ProfileEvent view = event("t1", minute(1), new PageView("shoes", null));
    apply(view);
    apply(event("t2", minute(2), new CartAdd("a")));
    apply(event("t3", minute(3), purchase("o-1", "5", "b")));
    apply(event("t4", minute(4), attributes("loyalty_tier", "gold")));
    ProfileEvent erasure = event("t10", minute(10), new Erasure());
    assertThat(apply(erasure)).isEqualTo(ApplyResult.CHANGED);
    assertThat(hash(UID)).containsExactly(entry("~erased", erasure.version()));

    assertThat(apply(view)).isEqualTo(ApplyResult.ERASED_BEFORE);
    assertThat(apply(event("t5", minute(5), attributes("first_name", "Ada")))).isEqualTo(ApplyResult.ERASED_BEFORE);
    assertThat(apply(event("t9", minute(9), new Erasure()))).isEqualTo(ApplyResult.ERASED_BEFORE);
    assertThat(apply(erasure)).as("the erasure itself, replayed").isEqualTo(ApplyResult.ERASED_BEFORE);
    assertThat(hash(UID)).containsExactly(entry("~erased", erasure.version()));

    ProfileEvent after = event("t11", minute(11), new PageView("hats", null));
    assertThat(apply(after)).isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).containsExactly(
        entry("last_view_at", "2026-03-01T10:11:00Z"), entry("last_view_category", "hats"),
        entry("recent_categories", "hats"));
    assertThat(hash(UID)).containsEntry("~erased", erasure.version());
  }

  @Test
  @DisplayName("erasure arriving late: deletes what is older than it, keeps what is newer (as if it came in order)")
  void lateErasure() {
    apply(event("l5", minute(5), attributes("first_name", "Ada")));
    apply(event("l20", minute(20), new PageView("shoes", null)));
    apply(event("l6", minute(6), new CartAdd("a")));
    apply(event("l21", minute(21), new CartAdd("b")));
    ProfileEvent erasure = event("l10", minute(10), new Erasure());
    assertThat(apply(erasure)).isEqualTo(ApplyResult.CHANGED);
    assertThat(visible(UID)).containsExactly(
        entry("cart_items", "b"), entry("cart_updated_at", "2026-03-01T10:21:00Z"),
        entry("last_view_at", "2026-03-01T10:20:00Z"), entry("last_view_category", "shoes"),
        entry("recent_categories", "shoes"));
    assertThat(hash(UID)).containsEntry("~erased", erasure.version())
        .doesNotContainKeys("~v:first_name", "~k:a");
  }

  // -------------------------------------------------------------------------------------- order independence

  static Stream<Long> seeds() {
    return Stream.of(20261122L, 7L, System.nanoTime());
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  @DisplayName("any order of the same events, with repeats, ends in the same hashes")
  void orderIndependence(long seed) {
    List<String> uids = List.of("u1", "u2", "u3", "u4");
    assertOrderIndependent(seed, new EventGenerator(seed, uids, 12, 20, COVERAGE).events(200), uids);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  @DisplayName("order independence holds where the category, cart and purchase caps drop entries")
  void orderIndependenceAtCaps(long seed) {
    List<String> uids = List.of("heavy");
    List<ProfileEvent> events = new EventGenerator(seed, uids, 70, 130, COVERAGE_NO_ERASURE).events(600);
    events.add(new ProfileEvent("erasure", "heavy", T0.minus(Duration.ofDays(820)), new Erasure()));
    assertOrderIndependent(seed, events, uids);
  }

  void assertOrderIndependent(long seed, List<ProfileEvent> events, List<String> uids) {
    Map<String, Map<String, String>> reference = applyAll(prefix + "ref:", events, uids);
    assertThat(reference.values()).as("seed %d: the events leave data", seed)
        .anySatisfy(h -> assertThat(h).containsKey("recent_categories"))
        .anySatisfy(h -> assertThat(h).containsKey("orders_365d"));
    Random shuffler = new Random(seed);
    for (int round = 0; round < 4; round++) {
      List<ProfileEvent> order = new ArrayList<>(events);
      if (round == 0) { // backwards, then every event again
        Collections.reverse(order);
        order.addAll(events);
      } else { // a third more events repeated, all shuffled
        for (int i = 0; i < events.size() / 3; i++) {
          order.add(events.get(shuffler.nextInt(events.size())));
        }
        Collections.shuffle(order, shuffler);
      }
      assertThat(applyAll(prefix + round + ":", order, uids))
          .as("seed %d, order %d (rerun with this seed to reproduce)", seed, round)
          .isEqualTo(reference);
    }
  }

  /** Applies the events in this order (pipelined on the one connection) and reads back each reader's hash. */
  static Map<String, Map<String, String>> applyAll(String keyPrefix, List<ProfileEvent> events, List<String> uids) {
    ProfileWriter w = new ProfileWriter(keyPrefix, CHANNEL, redis::send);
    await(Future.all(events.stream().map(w::apply).collect(Collectors.toList())));
    Map<String, Map<String, String>> hashes = new TreeMap<>();
    for (String uid : uids) {
      hashes.put(uid, hgetall(RedisConfig.profileKey(keyPrefix, uid)));
    }
    return hashes;
  }

  /** How often each event type comes up, in parts (they need not add up to 100). */
  static Map<Type, Integer> mix(int pageView, int cartAdd, int cartRemove, int purchase, int attribute, int consent,
      int erasure) {
    Map<Type, Integer> mix = new EnumMap<>(Type.class);
    mix.put(Type.PAGE_VIEW, pageView);
    mix.put(Type.CART_ADD, cartAdd);
    mix.put(Type.CART_REMOVE, cartRemove);
    mix.put(Type.PURCHASE, purchase);
    mix.put(Type.ATTRIBUTE, attribute);
    mix.put(Type.CONSENT, consent);
    mix.put(Type.ERASURE, erasure);
    return mix;
  }

  /** Every type often enough to meet every rule, including erasures. */
  static final Map<Type, Integer> COVERAGE = mix(25, 17, 10, 15, 15, 15, 3);
  /** The same without erasures, so that caps are reached. */
  static final Map<Type, Integer> COVERAGE_NO_ERASURE = mix(25, 17, 10, 15, 15, 15, 0);
  /** Roughly a live stream: mostly page views, some cart activity, few purchases and erasures. */
  static final Map<Type, Integer> TRAFFIC = mix(70, 12, 5, 2, 6, 4, 1);

  /**
   * Random but reproducible events over a few readers, in the given mix of types, spread over 800 days (so the
   * 365-day window prunes): same-millisecond ties with ids in mixed case, orders sent again, attribute deletes.
   */
  static final class EventGenerator {

    private static final List<String> ATTRIBUTES = List.of("first_name", "loyalty_tier", "city", "engagement_score");
    private static final long SPAN_MS = Duration.ofDays(800).toMillis();

    private final Random random;
    private final List<String> uids;
    private final int categories;
    private final int products;
    private final Map<Type, Integer> mix;
    private final int totalWeight;
    private final List<Instant> times = new ArrayList<>();
    private int sequence;

    EventGenerator(long seed, List<String> uids, int categories, int products, Map<Type, Integer> mix) {
      this.random = new Random(seed);
      this.uids = uids;
      this.categories = categories;
      this.products = products;
      this.mix = mix;
      this.totalWeight = mix.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** The next count events, in a list the caller may change. */
    List<ProfileEvent> events(int count) {
      return IntStream.range(0, count).mapToObj(i -> next()).collect(Collectors.toCollection(ArrayList::new));
    }

    ProfileEvent next() {
      String id = letters(2) + "-" + sequence++;
      return new ProfileEvent(id, uids.get(random.nextInt(uids.size())), time(), payload(type()));
    }

    private Type type() {
      int roll = random.nextInt(totalWeight);
      for (Map.Entry<Type, Integer> weight : mix.entrySet()) {
        roll -= weight.getValue();
        if (roll < 0) {
          return weight.getKey();
        }
      }
      throw new IllegalStateException("weights changed");
    }

    private Payload payload(Type type) {
      return switch (type) {
        case PAGE_VIEW -> new PageView("cat" + random.nextInt(categories), random.nextBoolean() ? product() : null);
        case CART_ADD -> new CartAdd(product());
        case CART_REMOVE -> new CartRemove(product());
        case PURCHASE -> {
          List<String> items = IntStream.range(0, 1 + random.nextInt(4)).mapToObj(i -> product())
              .collect(Collectors.toList());
          String order = "o" + random.nextInt(Math.max(8, products / 4));
          yield new Purchase(order, items, BigDecimal.valueOf(random.nextInt(100_000), random.nextInt(4)));
        }
        case ATTRIBUTE -> {
          Map<String, String> values = new HashMap<>();
          for (int i = 0, n = 1 + random.nextInt(3); i < n; i++) {
            values.put(ATTRIBUTES.get(random.nextInt(ATTRIBUTES.size())), random.nextInt(4) == 0 ? null : letters(5));
          }
          yield new AttributeChange(values);
        }
        case CONSENT -> {
          int which = random.nextInt(3);
          yield new Consent(which == 1 ? null : random.nextBoolean(), which == 2 ? null : random.nextBoolean());
        }
        case ERASURE -> new Erasure();
      };
    }

    /** One time in five repeats an earlier one to the millisecond. */
    private Instant time() {
      if (!times.isEmpty() && random.nextInt(5) == 0) {
        return times.get(random.nextInt(times.size()));
      }
      Instant t = T0.minus(Duration.ofDays(900)).plusMillis((long) (random.nextDouble() * SPAN_MS));
      times.add(t);
      return t;
    }

    private String product() {
      return "p" + random.nextInt(products);
    }

    private String letters(int n) {
      StringBuilder s = new StringBuilder();
      for (int i = 0; i < n; i++) {
        int c = random.nextInt(52);
        s.append((char) (c < 26 ? 'A' + c : 'a' + c - 26));
      }
      return s.toString();
    }
  }

  // ---------------------------------------------------------------------------- Redis: scripts, pub/sub, load

  @Test
  @DisplayName("after SCRIPT FLUSH the writer falls back to EVAL once, which caches the script again")
  void noScriptRecovery() {
    List<Command> sent = new CopyOnWriteArrayList<>();
    ProfileWriter counting = new ProfileWriter(prefix, CHANNEL, request -> {
      sent.add(request.command());
      return redis.send(request);
    });
    await(redis.send(Request.cmd(Command.SCRIPT).arg("FLUSH")));
    assertThat(await(counting.apply(event("n1", minute(1), new CartAdd("a"))))).isEqualTo(ApplyResult.CHANGED);
    assertThat(sent).containsExactly(Command.EVALSHA, Command.EVAL);
    Response exists = await(redis.send(Request.cmd(Command.SCRIPT).arg("EXISTS").arg(counting.scriptSha())));
    assertThat(exists.get(0).toInteger()).isEqualTo(1);

    sent.clear();
    assertThat(await(counting.apply(event("n2", minute(2), new CartAdd("b"))))).isEqualTo(ApplyResult.CHANGED);
    assertThat(sent).containsExactly(Command.EVALSHA);
    assertThat(hash(UID)).containsEntry("cart_items", "b,a");
  }

  @Test
  @DisplayName("any other Redis error fails the apply, without an EVAL retry")
  void otherErrorsFail() {
    List<Command> sent = new CopyOnWriteArrayList<>();
    ProfileWriter counting = new ProfileWriter(prefix, CHANNEL, request -> {
      sent.add(request.command());
      return redis.send(request);
    });
    await(redis.send(Request.cmd(Command.SET).arg(RedisConfig.profileKey(prefix, UID)).arg("not a hash")));
    Throwable failure = await(counting.apply(event("w1", minute(1), new CartAdd("a")))
        .transform(ar -> Future.succeededFuture(ar.cause())));
    assertThat(failure).isNotNull();
    assertThat(failure.getMessage()).contains("WRONGTYPE");
    assertThat(sent).containsExactly(Command.EVALSHA);
  }

  @Test
  @DisplayName("the uid is published on the invalidation channel when the hash changed, and only then")
  void publishesOnlyOnChange() throws InterruptedException {
    String channel = CHANNEL + ":pub";
    ProfileWriter publishing = new ProfileWriter(prefix, channel, redis::send);
    BlockingQueue<String> pushed = new LinkedBlockingQueue<>();
    RedisConnection subscriber = await(Redis.createClient(vertx, url).connect()); // never a command connection
    try {
      subscriber.handler(push -> pushed.add(push.get(0) + ":" + push.get(2)));
      await(subscriber.send(Request.cmd(Command.SUBSCRIBE).arg(channel)));
      assertThat(pushed.poll(10, TimeUnit.SECONDS)).isEqualTo("subscribe:1");

      ProfileEvent view = event("s1", minute(1), new PageView("shoes", null));
      assertThat(await(publishing.apply(view))).isEqualTo(ApplyResult.CHANGED);
      assertThat(pushed.poll(10, TimeUnit.SECONDS)).isEqualTo("message:" + UID);

      assertThat(await(publishing.apply(view))).isEqualTo(ApplyResult.UNCHANGED);
      assertThat(await(publishing.apply(event("s0", minute(0), new PageView("shoes", null)))))
          .isEqualTo(ApplyResult.UNCHANGED);
      // Redis delivers in order: the next message is the one for this later change, so none came in between.
      assertThat(await(publishing.apply(new ProfileEvent("s2", "other", minute(2), new CartAdd("a")))))
          .isEqualTo(ApplyResult.CHANGED);
      assertThat(pushed.poll(10, TimeUnit.SECONDS)).isEqualTo("message:other");
      assertThat(pushed).isEmpty();
    } finally {
      await(subscriber.close());
    }
  }

  @Test
  @DisplayName("throughput: 50,000 events pipelined on one connection, two mixes (prints events/s)")
  void throughput() throws InterruptedException {
    List<String> uids = IntStream.range(0, 5_000).mapToObj(i -> "load-" + i).collect(Collectors.toList());
    pipeline(new ProfileWriter(prefix + "warmup:", CHANNEL, redis::send),
        new EventGenerator(41, uids, 40, 200, COVERAGE).events(10_000));

    List<ProfileEvent> live = new EventGenerator(42, uids, 40, 200, TRAFFIC).events(50_000);
    live.sort(Comparator.comparing(ProfileEvent::time)); // a live stream is mostly in time order
    measureThroughput("live mix in time order", new ProfileWriter(prefix + "live:", CHANNEL, redis::send), live);
    measureThroughput("coverage mix, shuffled", new ProfileWriter(prefix + "coverage:", CHANNEL, redis::send),
        new EventGenerator(43, uids, 40, 200, COVERAGE).events(50_000));
  }

  static void measureThroughput(String name, ProfileWriter w, List<ProfileEvent> events) throws InterruptedException {
    long[] before = evalshaStats();
    long start = System.nanoTime();
    int failures = pipeline(w, events);
    double seconds = (System.nanoTime() - start) / 1e9;
    long[] after = evalshaStats();
    double usecPerCall = (double) (after[1] - before[1]) / Math.max(1, after[0] - before[0]);
    System.out.printf("ProfileWriter throughput, %s: %d events in %.2f s = %.0f events/s on one connection "
            + "(%d in flight); the script costs Redis %.1f us per event (a ceiling of %.0f events/s)%n",
        name, events.size(), seconds, events.size() / seconds, IN_FLIGHT, usecPerCall, 1e6 / usecPerCall);
    assertThat(failures).as(name + ": failed applies").isZero();
  }

  static final int IN_FLIGHT = 1_000;

  /** Applies the events with at most {@link #IN_FLIGHT} unanswered at a time; answers the number of failures. */
  static int pipeline(ProfileWriter w, List<ProfileEvent> events) throws InterruptedException {
    Semaphore window = new Semaphore(IN_FLIGHT);
    CountDownLatch done = new CountDownLatch(events.size());
    AtomicInteger failures = new AtomicInteger();
    for (ProfileEvent e : events) {
      window.acquire();
      w.apply(e).onComplete(ar -> {
        if (ar.failed()) {
          failures.incrementAndGet();
        }
        window.release();
        done.countDown();
      });
    }
    assertThat(done.await(120, TimeUnit.SECONDS)).as("all applied within 120 s").isTrue();
    return failures.get();
  }

  /** Calls and total microseconds of EVALSHA so far (INFO commandstats). */
  static long[] evalshaStats() {
    String info = await(redis.send(Request.cmd(Command.INFO).arg("commandstats"))).toString();
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:")) {
        Map<String, String> stats = new HashMap<>();
        for (String pair : line.substring(line.indexOf(':') + 1).split(",")) {
          String[] kv = pair.split("=", 2);
          stats.put(kv[0], kv[1]);
        }
        return new long[] {Long.parseLong(stats.get("calls")), Long.parseLong(stats.get("usec"))};
      }
    }
    return new long[] {0, 0};
  }
}
