package io.opentime.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.events.ProfileEvent.AttributeChange;
import io.opentime.events.ProfileEvent.CartAdd;
import io.opentime.events.ProfileEvent.Consent;
import io.opentime.events.ProfileEvent.Erasure;
import io.opentime.events.ProfileEvent.PageView;
import io.opentime.events.ProfileEvent.Purchase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Validation, normalization and the JSON round trip of profile events (no servers). */
class ProfileEventTest {

  static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");

  static JsonObject common(String type) {
    return new JsonObject().put("id", "ev-1").put("uid", "r-1029").put("type", type)
        .put("time", "2026-11-22T10:00:00Z");
  }

  static JsonObject pageView() {
    return common("page_view").put("category", "shoes").put("product", "sku-1");
  }

  static JsonObject cartAdd() {
    return common("cart_add").put("product", "sku-1");
  }

  static JsonObject cartRemove() {
    return common("cart_remove").put("product", "sku-1");
  }

  static JsonObject purchase() {
    return common("purchase").put("order", "o-1").put("products", new JsonArray().add("sku-1").add("sku-2"))
        .put("amount", 19.99);
  }

  static JsonObject attribute() {
    return common("attribute").put("attributes", new JsonObject().put("first_name", "Ada").putNull("city"));
  }

  static JsonObject consent() {
    return common("consent").put("tracking", true).put("personalization", false);
  }

  static JsonObject erasure() {
    return common("erasure");
  }

  static JsonObject with(JsonObject json, Consumer<JsonObject> change) {
    change.accept(json);
    return json;
  }

  static JsonObject attributes(int n) {
    JsonObject a = new JsonObject();
    IntStream.range(0, n).forEach(i -> a.put("a" + i, "v"));
    return a;
  }

  static JsonArray products(int n) {
    JsonArray a = new JsonArray();
    IntStream.range(0, n).forEach(i -> a.add("p" + i));
    return a;
  }

  /** Every rejection path: the event, then the exact message. */
  static Stream<Arguments> invalidEvents() {
    return Stream.of(
        // type and members
        Arguments.of(with(pageView(), j -> j.remove("type")), "type: required"),
        Arguments.of(with(pageView(), j -> j.put("type", 7)), "type: must be a string"),
        Arguments.of(with(pageView(), j -> j.put("type", "click")),
            "type: must be one of page_view, cart_add, cart_remove, purchase, attribute, consent, erasure"),
        Arguments.of(with(pageView(), j -> j.put("colour", "red")), "colour: not a member of page_view events"),
        Arguments.of(with(pageView(), j -> j.put("order", "o-1")), "order: not a member of page_view events"),
        Arguments.of(with(erasure(), j -> j.put("product", "p")), "product: not a member of erasure events"),
        // id
        Arguments.of(with(pageView(), j -> j.remove("id")), "id: required"),
        Arguments.of(with(pageView(), j -> j.put("id", 12)), "id: must be a string"),
        Arguments.of(with(pageView(), j -> j.putNull("id")), "id: must be a string"),
        Arguments.of(with(pageView(), j -> j.put("id", "")), "id: must be 1-128 characters"),
        Arguments.of(with(pageView(), j -> j.put("id", "x".repeat(129))), "id: must be 1-128 characters"),
        Arguments.of(with(pageView(), j -> j.put("id", "a b")),
            "id: must not contain whitespace or control characters"),
        Arguments.of(with(pageView(), j -> j.put("id", "a\u00a0b")),
            "id: must not contain whitespace or control characters"),
        Arguments.of(with(pageView(), j -> j.put("id", "a\u0007")),
            "id: must not contain whitespace or control characters"),
        Arguments.of(with(pageView(), j -> j.put("id", "a\ud800")), "id: not valid Unicode (a lone surrogate)"),
        // uid
        Arguments.of(with(pageView(), j -> j.remove("uid")), "uid: required"),
        Arguments.of(with(pageView(), j -> j.put("uid", "u".repeat(129))), "uid: must be 1-128 characters"),
        Arguments.of(with(pageView(), j -> j.put("uid", "r 1")),
            "uid: must not contain whitespace or control characters"),
        Arguments.of(with(pageView(), j -> j.put("uid", "ada@example.com")),
            "uid: must not contain '@' (an opaque reader id, never an email address)"),
        // time
        Arguments.of(with(pageView(), j -> j.remove("time")), "time: required"),
        Arguments.of(with(pageView(), j -> j.put("time", 1_700_000_000_000L)), "time: must be a string"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-11-22 10:00:00Z")), "time: not an RFC 3339 timestamp"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-11-22T10:00Z")), "time: not an RFC 3339 timestamp"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-11-22T10:00:00")), "time: not an RFC 3339 timestamp"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-02-30T10:00:00Z")), "time: not an RFC 3339 timestamp"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-11-22T10:00:00+25:00")),
            "time: not an RFC 3339 timestamp"),
        Arguments.of(with(pageView(), j -> j.put("time", "1999-12-31T23:59:59.999Z")),
            "time: before 2000-01-01T00:00:00Z"),
        Arguments.of(with(pageView(), j -> j.put("time", "2026-11-22T12:05:00.001Z")),
            "time: more than 5 minutes in the future"),
        // page_view
        Arguments.of(with(pageView(), j -> j.remove("category")), "category: required"),
        Arguments.of(with(pageView(), j -> j.put("category", true)), "category: must be a string"),
        Arguments.of(with(pageView(), j -> j.put("category", "")), "category: must be 1-64 characters"),
        Arguments.of(with(pageView(), j -> j.put("category", "c".repeat(65))), "category: must be 1-64 characters"),
        Arguments.of(with(pageView(), j -> j.put("category", "   ")), "category: must not be blank"),
        Arguments.of(with(pageView(), j -> j.put("category", "a\nb")), "category: must not contain control characters"),
        Arguments.of(with(pageView(), j -> j.put("category", "shoes,hats")), "category: must not contain ','"),
        Arguments.of(with(pageView(), j -> j.putNull("product")), "product: must be a string"),
        Arguments.of(with(pageView(), j -> j.put("product", "p,1")), "product: must not contain ','"),
        Arguments.of(with(pageView(), j -> j.put("product", "p|1")), "product: must not contain '|'"),
        // cart
        Arguments.of(with(cartAdd(), j -> j.remove("product")), "product: required"),
        Arguments.of(with(cartAdd(), j -> j.put("product", "p 1")),
            "product: must not contain whitespace or control characters"),
        Arguments.of(with(cartRemove(), j -> j.put("product", "p".repeat(129))), "product: must be 1-128 characters"),
        // purchase
        Arguments.of(with(purchase(), j -> j.remove("order")), "order: required"),
        Arguments.of(with(purchase(), j -> j.put("order", "o 1")),
            "order: must not contain whitespace or control characters"),
        Arguments.of(with(purchase(), j -> j.remove("products")), "products: required"),
        Arguments.of(with(purchase(), j -> j.put("products", "sku-1")), "products: must be an array"),
        Arguments.of(with(purchase(), j -> j.put("products", new JsonArray())),
            "products: must hold 1-100 product ids"),
        Arguments.of(with(purchase(), j -> j.put("products", products(101))), "products: must hold 1-100 product ids"),
        Arguments.of(with(purchase(), j -> j.put("products", new JsonArray().add("a").add(2))),
            "products[1]: must be a string"),
        Arguments.of(with(purchase(), j -> j.put("products", new JsonArray().add("a,b"))),
            "products[0]: must not contain ','"),
        Arguments.of(with(purchase(), j -> j.remove("amount")), "amount: required"),
        Arguments.of(with(purchase(), j -> j.put("amount", "19.99")), "amount: must be a number"),
        Arguments.of(with(purchase(), j -> j.put("amount", -0.01)), "amount: must not be negative"),
        Arguments.of(with(purchase(), j -> j.put("amount", Double.NaN)), "amount: must be finite"),
        Arguments.of(with(purchase(), j -> j.put("amount", 1_000_000_000.01)), "amount: must be at most 1000000000"),
        // attribute
        Arguments.of(with(attribute(), j -> j.remove("attributes")), "attributes: required"),
        Arguments.of(with(attribute(), j -> j.put("attributes", "first_name=Ada")), "attributes: must be an object"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject())),
            "attributes: must have 1-50 members"),
        Arguments.of(with(attribute(), j -> j.put("attributes", attributes(51))), "attributes: must have 1-50 members"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("First", "Ada"))),
            "attributes.First: not a valid name (a lower-case letter, then up to 63 lower-case letters, digits or _)"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("~v:x", "1"))),
            "attributes.~v:x: not a valid name (a lower-case letter, then up to 63 lower-case letters, digits or _)"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("a" + "b".repeat(64), "x"))),
            "attributes.a" + "b".repeat(64)
                + ": not a valid name (a lower-case letter, then up to 63 lower-case letters, digits or _)"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("orders_365d", "9"))),
            "attributes.orders_365d: reserved: derived from events"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("last_view", "x"))),
            "attributes.last_view: reserved: derived from events"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("age", 42))),
            "attributes.age: must be a string or null"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("bio", "b".repeat(1025)))),
            "attributes.bio: must be at most 1024 characters"),
        Arguments.of(with(attribute(), j -> j.put("attributes", new JsonObject().put("bio", "\udc00"))),
            "attributes.bio: not valid Unicode (a lone surrogate)"),
        // consent
        Arguments.of(with(consent(), j -> {
          j.remove("tracking");
          j.remove("personalization");
        }), "tracking, personalization: at least one is required"),
        Arguments.of(with(consent(), j -> j.put("tracking", "yes")), "tracking: must be true or false"),
        Arguments.of(with(consent(), j -> j.putNull("personalization")), "personalization: must be true or false"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("invalidEvents")
  @DisplayName("every invalid event is refused with a message naming the member")
  void refused(JsonObject json, String message) {
    assertThatThrownBy(() -> ProfileEvent.fromJson(json, NOW))
        .isInstanceOf(InvalidEventException.class)
        .hasMessage(message);
  }

  static Stream<JsonObject> validEvents() {
    return Stream.of(pageView(), with(pageView(), j -> j.remove("product")), cartAdd(), cartRemove(), purchase(),
        attribute(), consent(), with(consent(), j -> j.remove("tracking")), erasure());
  }

  @ParameterizedTest
  @MethodSource("validEvents")
  @DisplayName("every type round-trips through toJson, as an object and as encoded text")
  void roundTrip(JsonObject json) {
    ProfileEvent event = ProfileEvent.fromJson(json, NOW);
    assertThat(event.toJson()).isEqualTo(json);
    assertThat(ProfileEvent.fromJson(event.toJson(), NOW)).isEqualTo(event);
    assertThat(ProfileEvent.fromJson(new JsonObject(event.toJson().encode()), NOW)).isEqualTo(event);
  }

  @Test
  @DisplayName("each type reads into its payload record")
  void payloads() {
    assertThat(ProfileEvent.fromJson(pageView(), NOW).payload()).isEqualTo(new PageView("shoes", "sku-1"));
    assertThat(ProfileEvent.fromJson(cartAdd(), NOW).payload()).isEqualTo(new CartAdd("sku-1"));
    assertThat(ProfileEvent.fromJson(purchase(), NOW).payload())
        .isEqualTo(new Purchase("o-1", List.of("sku-1", "sku-2"), new BigDecimal("19.99")));
    Map<String, String> attributes = new LinkedHashMap<>();
    attributes.put("first_name", "Ada");
    attributes.put("city", null);
    assertThat(ProfileEvent.fromJson(attribute(), NOW).payload()).isEqualTo(new AttributeChange(attributes));
    assertThat(ProfileEvent.fromJson(consent(), NOW).payload()).isEqualTo(new Consent(true, false));
    assertThat(ProfileEvent.fromJson(erasure(), NOW).payload()).isEqualTo(new Erasure());
  }

  @Test
  @DisplayName("times: offsets become UTC, lower-case t and z are accepted, digits past the millisecond are dropped")
  void times() {
    ProfileEvent e = ProfileEvent.fromJson(pageView().put("time", "2026-11-22t12:00:00.123456789+02:00"), NOW);
    assertThat(e.time()).isEqualTo(Instant.parse("2026-11-22T10:00:00.123Z"));
    assertThat(e.toJson().getString("time")).isEqualTo("2026-11-22T10:00:00.123Z");
    assertThat(ProfileEvent.fromJson(pageView().put("time", "2000-01-01T00:00:00z"), NOW).time())
        .isEqualTo(ProfileEvent.EARLIEST);
    assertThat(ProfileEvent.fromJson(pageView().put("time", "2026-11-22T12:05:00Z"), NOW).time())
        .isEqualTo(NOW.plus(ProfileEvent.MAX_CLOCK_SKEW));
  }

  @Test
  @DisplayName("the version is the zero-padded epoch millis, a bar and the id: later time first, then larger id")
  void version() {
    ProfileEvent e = ProfileEvent.fromJson(pageView().put("time", "2026-11-22T10:00:00.5Z"), NOW);
    assertThat(e.version()).isEqualTo("0001795341600500|ev-1");
    ProfileEvent early = ProfileEvent.fromJson(pageView().put("time", "2001-09-09T01:46:39Z"), NOW);
    assertThat(early.version()).isEqualTo("0000999999999000|ev-1").isLessThan(e.version());
  }

  @Test
  @DisplayName("amounts are kept as plain decimals, whatever the JSON number's form")
  void amounts() {
    assertThat(amountOf(purchase().put("amount", 100))).isEqualTo("100");
    assertThat(amountOf(new JsonObject(purchase().encode().replace("19.99", "1e2")))).isEqualTo("100");
    assertThat(amountOf(new JsonObject(purchase().encode().replace("19.99", "19.900")))).isEqualTo("19.9");
    assertThat(amountOf(new JsonObject(purchase().encode().replace("19.99", "0.000")))).isEqualTo("0");
    assertThat(amountOf(purchase().put("amount", new BigDecimal("0.125")))).isEqualTo("0.125");
    assertThat(amountOf(purchase().put("amount", 1_000_000_000))).isEqualTo("1000000000");
  }

  static String amountOf(JsonObject json) {
    return ((Purchase) ProfileEvent.fromJson(json, NOW).payload()).amount().toPlainString();
  }

  @Test
  @DisplayName("lengths count characters, not UTF-16 units; an id may be any visible text")
  void lengthsInCharacters() {
    String emoji128 = "\ud83d\ude00".repeat(128);
    assertThat(ProfileEvent.fromJson(pageView().put("id", emoji128), NOW).id()).isEqualTo(emoji128);
    assertThat(ProfileEvent.fromJson(pageView().put("id", "k|0|17"), NOW).version()).endsWith("|k|0|17");
  }

  @Test
  @DisplayName("the constructors enforce the same rules as fromJson")
  void constructorsValidate() {
    Instant t = Instant.parse("2026-01-01T00:00:00Z");
    assertThatThrownBy(() -> new ProfileEvent("e", "u@x", t, new Erasure()))
        .isInstanceOf(InvalidEventException.class).hasMessageStartingWith("uid: must not contain '@'");
    assertThatThrownBy(() -> new ProfileEvent("e", "u", t, null))
        .isInstanceOf(InvalidEventException.class).hasMessage("type: required");
    assertThatThrownBy(() -> new CartAdd("a,b"))
        .isInstanceOf(InvalidEventException.class).hasMessage("product: must not contain ','");
  }
}
