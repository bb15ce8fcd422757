package io.opentime.events;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One event about a reader, as it arrives from Kafka or the webhook, validated. {@link ProfileWriter} applies it to
 * the reader's profile hash. The format, every limit and what each type does to the hash: docs/events.md.
 *
 * <p>Every instance is valid: the constructors check the members' content (lengths, characters, names) and throw
 * {@link InvalidEventException}; {@link #fromJson} also checks the JSON shape and that the time is not in the future.
 *
 * @param id the event's id: its idempotency key (one id, one event) and the tie-breaker between events of the same
 *     millisecond
 * @param uid the opaque reader id (never an email address)
 * @param time when it happened, kept to the millisecond (finer digits are dropped)
 * @param payload what happened: one record per event type
 */
public record ProfileEvent(String id, String uid, Instant time, Payload payload) {

  /** The earliest accepted event time. */
  public static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");
  /** How far past "now" an event time may be (clock skew); a far-future time would win every later write. */
  public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);

  private static final int MAX_ID_LENGTH = 128;
  private static final int MAX_CATEGORY_LENGTH = 64;
  private static final int MAX_PRODUCTS = 100;
  private static final int MAX_ATTRIBUTES = 50;
  private static final int MAX_ATTRIBUTE_VALUE_LENGTH = 1024;
  /** Keeps every sum of cents exact in the apply script's doubles (docs/events.md, "Money"). */
  private static final BigDecimal MAX_AMOUNT = BigDecimal.valueOf(1_000_000_000L);
  private static final Pattern ATTRIBUTE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,63}");
  /** RFC 3339 section 5.6; parsed by java.time after this shape check (which rejects e.g. missing seconds). */
  private static final Pattern RFC_3339 =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})");
  private static final Set<String> COMMON_MEMBERS = Set.of("id", "uid", "type", "time");

  /**
   * Fields the apply script derives from events, and {@code last_view} (whose version key {@code ~v:last_view} is
   * the page-view pair's): an {@code attribute} event may not write them.
   */
  public static final Set<String> RESERVED_ATTRIBUTE_NAMES = Set.of(
      "last_view", "last_view_at", "last_view_category", "recent_categories",
      "cart_items", "cart_updated_at",
      "last_purchase_at", "orders_365d", "spend_365d", "purchased",
      "consent_tracking", "consent_personalization");

  /** Checks the common members and keeps the time to the millisecond. */
  public ProfileEvent {
    checkId("id", id);
    checkId("uid", uid);
    if (uid.indexOf('@') >= 0) {
      throw invalid("uid", "must not contain '@' (an opaque reader id, never an email address)");
    }
    if (time == null) {
      throw invalid("time", "required");
    }
    if (time.isBefore(EARLIEST)) {
      throw invalid("time", "before " + EARLIEST);
    }
    time = time.truncatedTo(ChronoUnit.MILLIS);
    if (payload == null) {
      throw invalid("type", "required");
    }
  }

  /**
   * Reads and validates an event.
   *
   * @param json the event object
   * @param now the current time: an event more than {@link #MAX_CLOCK_SKEW} after it is refused
   * @throws InvalidEventException naming the first offending member
   */
  public static ProfileEvent fromJson(JsonObject json, Instant now) {
    Objects.requireNonNull(json, "json");
    Objects.requireNonNull(now, "now");
    Type type = Type.ofWireName(requiredString(json, "type"));
    for (String member : json.fieldNames()) {
      if (!COMMON_MEMBERS.contains(member) && !type.members.contains(member)) {
        throw invalid(member, "not a member of " + type.wireName + " events");
      }
    }
    String id = requiredString(json, "id");
    String uid = requiredString(json, "uid");
    Instant time = parseTime(requiredString(json, "time"));
    if (time.isAfter(now.plus(MAX_CLOCK_SKEW))) {
      throw invalid("time", "more than " + MAX_CLOCK_SKEW.toMinutes() + " minutes in the future");
    }
    Payload payload = switch (type) {
      case PAGE_VIEW -> new PageView(requiredString(json, "category"), optionalString(json, "product"));
      case CART_ADD -> new CartAdd(requiredString(json, "product"));
      case CART_REMOVE -> new CartRemove(requiredString(json, "product"));
      case PURCHASE -> new Purchase(requiredString(json, "order"), products(json), amount(json));
      case ATTRIBUTE -> new AttributeChange(attributes(json));
      case CONSENT -> new Consent(optionalBoolean(json, "tracking"), optionalBoolean(json, "personalization"));
      case ERASURE -> new Erasure();
    };
    return new ProfileEvent(id, uid, time, payload);
  }

  /** The event as JSON, in the format {@link #fromJson} reads (they round-trip). */
  public JsonObject toJson() {
    return new JsonObject()
        .put("id", id)
        .put("uid", uid)
        .put("type", payload.type().wireName())
        .put("time", time.toString())
        .mergeIn(payload.toJson());
  }

  /**
   * The event's version, {@code <epoch millis, 16 digits>|<id>}: of two writes to one field the later version wins
   * (later time, then the larger id).
   */
  public String version() {
    return String.format(Locale.ROOT, "%016d|%s", time.toEpochMilli(), id);
  }

  /** The event types, by their name in the {@code type} member. */
  public enum Type {
    PAGE_VIEW("page_view", "category", "product"),
    CART_ADD("cart_add", "product"),
    CART_REMOVE("cart_remove", "product"),
    PURCHASE("purchase", "order", "products", "amount"),
    ATTRIBUTE("attribute", "attributes"),
    CONSENT("consent", "tracking", "personalization"),
    ERASURE("erasure");

    private final String wireName;
    private final Set<String> members;

    Type(String wireName, String... members) {
      this.wireName = wireName;
      this.members = Set.of(members);
    }

    /** The name in the {@code type} member, e.g. {@code page_view}. */
    public String wireName() {
      return wireName;
    }

    static Type ofWireName(String name) {
      for (Type t : values()) {
        if (t.wireName.equals(name)) {
          return t;
        }
      }
      List<String> names = new ArrayList<>();
      for (Type t : values()) {
        names.add(t.wireName);
      }
      throw invalid("type", "must be one of " + String.join(", ", names));
    }
  }

  /** What happened: the members specific to one event type. */
  public sealed interface Payload permits PageView, CartAdd, CartRemove, Purchase, AttributeChange, Consent, Erasure {

    /** The event type this payload belongs to. */
    Type type();

    /** This payload's members, as in the event JSON. */
    JsonObject toJson();
  }

  /**
   * The reader viewed a page of a category (and maybe a product page).
   *
   * @param category 1-64 characters, no comma, not blank
   * @param product the product viewed, or null; accepted and validated but not stored in the profile today
   */
  public record PageView(String category, String product) implements Payload {

    /** Checks the members. */
    public PageView {
      checkText("category", category, 1, MAX_CATEGORY_LENGTH);
      if (category.isBlank()) {
        throw invalid("category", "must not be blank");
      }
      if (category.codePoints().anyMatch(Character::isISOControl)) {
        throw invalid("category", "must not contain control characters");
      }
      checkNoSeparator("category", category, ',');
      if (product != null) {
        checkProductId("product", product);
      }
    }

    @Override
    public Type type() {
      return Type.PAGE_VIEW;
    }

    @Override
    public JsonObject toJson() {
      JsonObject json = new JsonObject().put("category", category);
      return product == null ? json : json.put("product", product);
    }
  }

  /**
   * The reader put a product in the cart.
   *
   * @param product the product id
   */
  public record CartAdd(String product) implements Payload {

    /** Checks the product id. */
    public CartAdd {
      checkProductId("product", product);
    }

    @Override
    public Type type() {
      return Type.CART_ADD;
    }

    @Override
    public JsonObject toJson() {
      return new JsonObject().put("product", product);
    }
  }

  /**
   * The reader took a product out of the cart.
   *
   * @param product the product id
   */
  public record CartRemove(String product) implements Payload {

    /** Checks the product id. */
    public CartRemove {
      checkProductId("product", product);
    }

    @Override
    public Type type() {
      return Type.CART_REMOVE;
    }

    @Override
    public JsonObject toJson() {
      return new JsonObject().put("product", product);
    }
  }

  /**
   * The reader placed an order.
   *
   * @param order the order id (a second event for the same order replaces the first if it is later)
   * @param products 1-100 product ids, in the order given (repeats allowed)
   * @param amount the order's amount, {@code >= 0}, at most one billion; kept without trailing zeros
   */
  public record Purchase(String order, List<String> products, BigDecimal amount) implements Payload {

    /** Checks the members, copies the list and normalizes the amount. */
    public Purchase {
      checkId("order", order);
      if (products == null) {
        throw invalid("products", "required");
      }
      if (products.isEmpty() || products.size() > MAX_PRODUCTS) {
        throw invalid("products", "must hold 1-" + MAX_PRODUCTS + " product ids");
      }
      for (int i = 0; i < products.size(); i++) {
        checkProductId("products[" + i + "]", products.get(i));
      }
      products = List.copyOf(products);
      if (amount == null) {
        throw invalid("amount", "required");
      }
      if (amount.signum() < 0) {
        throw invalid("amount", "must not be negative");
      }
      if (amount.compareTo(MAX_AMOUNT) > 0) {
        throw invalid("amount", "must be at most " + MAX_AMOUNT.toPlainString());
      }
      amount = amount.signum() == 0 ? BigDecimal.ZERO : amount.stripTrailingZeros();
    }

    @Override
    public Type type() {
      return Type.PURCHASE;
    }

    @Override
    public JsonObject toJson() {
      return new JsonObject()
          .put("order", order)
          .put("products", new JsonArray(products))
          .put("amount", new BigDecimal(amount.toPlainString()));
    }
  }

  /**
   * Profile attributes set or deleted by an upstream system (e.g. {@code first_name}, {@code loyalty_tier}).
   *
   * @param attributes 1-50 names (lower-case {@code [a-z][a-z0-9_]{0,63}}, not reserved) to values of at most 1024
   *     characters; a null value deletes the field. Unmodifiable, in the order given.
   */
  public record AttributeChange(Map<String, String> attributes) implements Payload {

    /** Checks the names and values and copies the map. */
    public AttributeChange {
      if (attributes == null) {
        throw invalid("attributes", "required");
      }
      if (attributes.isEmpty() || attributes.size() > MAX_ATTRIBUTES) {
        throw invalid("attributes", "must have 1-" + MAX_ATTRIBUTES + " members");
      }
      for (Map.Entry<String, String> a : attributes.entrySet()) {
        String member = "attributes." + a.getKey();
        if (a.getKey() == null || !ATTRIBUTE_NAME.matcher(a.getKey()).matches()) {
          throw invalid(member,
              "not a valid name (a lower-case letter, then up to 63 lower-case letters, digits or _)");
        }
        if (RESERVED_ATTRIBUTE_NAMES.contains(a.getKey())) {
          throw invalid(member, "reserved: derived from events");
        }
        if (a.getValue() != null) {
          checkText(member, a.getValue(), 0, MAX_ATTRIBUTE_VALUE_LENGTH);
        }
      }
      attributes = Collections.unmodifiableMap(new LinkedHashMap<>(attributes));
    }

    @Override
    public Type type() {
      return Type.ATTRIBUTE;
    }

    @Override
    public JsonObject toJson() {
      JsonObject values = new JsonObject();
      attributes.forEach(values::put);
      return new JsonObject().put("attributes", values);
    }
  }

  /**
   * The reader's consent changed.
   *
   * @param tracking whether the reader allows tracking, or null if unchanged
   * @param personalization whether the reader allows personalization, or null if unchanged
   */
  public record Consent(Boolean tracking, Boolean personalization) implements Payload {

    /** Checks that the event says something. */
    public Consent {
      if (tracking == null && personalization == null) {
        throw invalid("tracking, personalization", "at least one is required");
      }
    }

    @Override
    public Type type() {
      return Type.CONSENT;
    }

    @Override
    public JsonObject toJson() {
      JsonObject json = new JsonObject();
      if (tracking != null) {
        json.put("tracking", tracking);
      }
      if (personalization != null) {
        json.put("personalization", personalization);
      }
      return json;
    }
  }

  /** The reader asked to be forgotten: everything older than this event is deleted and cannot come back. */
  public record Erasure() implements Payload {

    @Override
    public Type type() {
      return Type.ERASURE;
    }

    @Override
    public JsonObject toJson() {
      return new JsonObject();
    }
  }

  private static Instant parseTime(String value) {
    if (!RFC_3339.matcher(value).matches()) {
      throw invalid("time", "not an RFC 3339 timestamp");
    }
    try {
      return OffsetDateTime.parse(value.toUpperCase(Locale.ROOT), DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      throw invalid("time", "not an RFC 3339 timestamp");
    }
  }

  private static List<String> products(JsonObject json) {
    if (!(json.getValue("products") instanceof JsonArray array)) {
      throw json.containsKey("products") ? invalid("products", "must be an array") : invalid("products", "required");
    }
    List<String> products = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      if (!(array.getValue(i) instanceof String product)) {
        throw invalid("products[" + i + "]", "must be a string");
      }
      products.add(product);
    }
    return products;
  }

  private static BigDecimal amount(JsonObject json) {
    Object value = json.getValue("amount");
    if (value instanceof BigDecimal d) {
      return d;
    }
    if (value instanceof BigInteger i) {
      return new BigDecimal(i);
    }
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return BigDecimal.valueOf(((Number) value).longValue());
    }
    if (value instanceof Number n) {
      double d = n.doubleValue();
      if (!Double.isFinite(d)) {
        throw invalid("amount", "must be finite");
      }
      return BigDecimal.valueOf(d);
    }
    throw json.containsKey("amount") ? invalid("amount", "must be a number") : invalid("amount", "required");
  }

  private static Map<String, String> attributes(JsonObject json) {
    if (!(json.getValue("attributes") instanceof JsonObject object)) {
      throw json.containsKey("attributes") ? invalid("attributes", "must be an object")
          : invalid("attributes", "required");
    }
    Map<String, String> attributes = new LinkedHashMap<>();
    for (String name : object.fieldNames()) {
      Object value = object.getValue(name);
      if (value != null && !(value instanceof String)) {
        throw invalid("attributes." + name, "must be a string or null");
      }
      attributes.put(name, (String) value);
    }
    return attributes;
  }

  private static String requiredString(JsonObject json, String member) {
    if (!json.containsKey(member)) {
      throw invalid(member, "required");
    }
    return optionalString(json, member);
  }

  private static String optionalString(JsonObject json, String member) {
    Object value = json.getValue(member);
    if (value == null && !json.containsKey(member)) {
      return null;
    }
    if (!(value instanceof String s)) {
      throw invalid(member, "must be a string");
    }
    return s;
  }

  private static Boolean optionalBoolean(JsonObject json, String member) {
    Object value = json.getValue(member);
    if (value == null && !json.containsKey(member)) {
      return null;
    }
    if (!(value instanceof Boolean b)) {
      throw invalid(member, "must be true or false");
    }
    return b;
  }

  /** Present, {@code min..max} code points long, and well-formed Unicode (no lone UTF-16 surrogate). */
  private static void checkText(String member, String value, int min, int max) {
    if (value == null) {
      throw invalid(member, "required");
    }
    int length = value.codePointCount(0, value.length());
    if (length < min || length > max) {
      throw invalid(member, min == 0 ? "must be at most " + max + " characters" : "must be " + min + "-" + max
          + " characters");
    }
    if (value.codePoints().anyMatch(cp -> Character.getType(cp) == Character.SURROGATE)) {
      throw invalid(member, "not valid Unicode (a lone surrogate)");
    }
  }

  private static void checkId(String member, String value) {
    checkText(member, value, 1, MAX_ID_LENGTH);
    if (value.codePoints().anyMatch(cp -> Character.isWhitespace(cp) || Character.isSpaceChar(cp)
        || Character.isISOControl(cp))) {
      throw invalid(member, "must not contain whitespace or control characters");
    }
  }

  /** An id that can sit in the hash's comma lists and in an order record ({@code version|amount|p1,p2}). */
  private static void checkProductId(String member, String value) {
    checkId(member, value);
    checkNoSeparator(member, value, ',');
    checkNoSeparator(member, value, '|');
  }

  private static void checkNoSeparator(String member, String value, char separator) {
    if (value.indexOf(separator) >= 0) {
      throw invalid(member, "must not contain '" + separator + "'");
    }
  }

  private static InvalidEventException invalid(String member, String problem) {
    return new InvalidEventException(member + ": " + problem);
  }
}
