package io.opentime.config;

import io.opentime.token.TokenKeys;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns the raw configuration tree and the environment into a validated {@link GatewayConfig}. Pure: no I/O, so
 * every rule is unit-tested.
 */
public final class ConfigParser {

  /** Environment variable to the dotted key it overrides. Blank variables are ignored. */
  public static final Map<String, String> ENV_OVERRIDES;

  static {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("OPENTIME_HTTP_HOST", "http.host");
    m.put("OPENTIME_HTTP_PORT", "http.port");
    m.put("OPENTIME_HTTP_INSTANCES", "http.instances");
    m.put("OPENTIME_SHUTDOWN_DELAY", "http.shutdown-delay");
    m.put("OPENTIME_DRAIN_TIMEOUT", "http.drain-timeout");
    m.put("OPENTIME_ACCESS_LOG", "http.access-log");
    m.put("OPENTIME_MANAGEMENT_HOST", "management.host");
    m.put("OPENTIME_MANAGEMENT_PORT", "management.port");
    m.put("OPENTIME_REDIS_URL", "redis.url");
    m.put("OPENTIME_REDIS_MODE", "redis.mode");
    m.put("OPENTIME_REDIS_MASTER_NAME", "redis.master-name");
    m.put("OPENTIME_REDIS_READ_FROM", "redis.read-from");
    m.put("OPENTIME_REDIS_DEADLINE", "redis.deadline");
    m.put("OPENTIME_REDIS_BATCH_WINDOW", "redis.batch-window");
    m.put("OPENTIME_TOKEN_KEYS", "tokens.keys");
    m.put("OPENTIME_AMP_SENDERS", "amp.senders");
    m.put("OPENTIME_AMP_ORIGINS", "amp.origins");
    m.put("OPENTIME_CACHE_MAX_ENTRIES", "cache.max-entries");
    m.put("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", "kafka.bootstrap-servers");
    m.put("OPENTIME_UPDATER_ENABLED", "updater.enabled");
    m.put("OPENTIME_UPDATER_GROUP_ID", "updater.group-id");
    m.put("OPENTIME_UPDATER_INSTANCES", "updater.instances");
    m.put("OPENTIME_CONSENT_REQUIRE_EXPLICIT", "consent.require-explicit");
    m.put("OPENTIME_LINKS_FALLBACK_URL", "links.fallback-url");
    m.put("OPENTIME_WEBHOOK_KEYS", "webhook.keys");
    ENV_OVERRIDES = Map.copyOf(m);
  }

  public static final List<String> DEFAULT_AMP_ORIGINS = List.of("https://mail.google.com", "https://amp.gmail.dev");

  /**
   * How long a read connection gathers reads before writing them (redis.batch-window). Measured with
   * bench/cold-ab.sh on 2 cores, cold readers at saturation: against writing at the end of each loop turn, 100-300 us
   * took less of the machine's time per cold answer in 9 same-minute pairs of 10, about 7% at the median (fewer,
   * larger writes and reads for the gateway and Redis), and each miss waits at most this long more, next to a 25 ms
   * deadline (docs/benchmarks-history.md, session 9).
   */
  static final Duration DEFAULT_BATCH_WINDOW = Duration.ofNanos(250_000);
  private static final Pattern BLOCK_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
  private static final Pattern TEMPLATE_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\\.mustache");
  private static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}");
  private static final Pattern TOPIC_NAME = Pattern.compile("[A-Za-z0-9._-]{1,249}");
  private static final Pattern HOST_PORT = Pattern.compile("[A-Za-z0-9.-]+:\\d{1,5}|\\[[0-9A-Fa-f:]+]:\\d{1,5}");
  /** Link ids in click tokens and in {@code links.targets}. */
  public static final Pattern LINK_ID = Pattern.compile("[A-Za-z0-9_.:-]{1,128}");

  private ConfigParser() {
  }

  public static GatewayConfig parse(JsonObject file, Map<String, String> env) {
    JsonObject root = file == null ? new JsonObject() : file.copy();
    Map<String, String> envSources = new HashMap<>();
    ENV_OVERRIDES.forEach((var, key) -> {
      String value = env.get(var);
      if (value != null && !value.isBlank()) {
        String[] parts = key.split("\\.");
        JsonObject section = root.getValue(parts[0]) instanceof JsonObject o ? o : new JsonObject();
        root.put(parts[0], section);
        section.put(parts[1], value.trim());
        envSources.put(key, var);
      }
    });

    ConfigNode top = new ConfigNode(root, "", envSources);
    HttpConfig http = http(top.child("http"));
    ManagementConfig management = management(top.child("management"));
    RedisConfig redis = redis(top.child("redis"));
    TokenKeys keys = tokens(top.child("tokens"));
    AmpConfig amp = amp(top.child("amp"));
    CacheConfig cache = cache(top.child("cache"));
    SegmentsConfig segments = segments(top.child("segments"));
    RecommendationsConfig recommendations = recommendations(top.child("recommendations"));
    Map<String, BlockConfig> blocks = blocks(top.child("blocks"), segments);
    EventsConfig events = events(top);
    top.rejectUnknown();
    return new GatewayConfig(http, management, redis, keys, amp, cache, segments, recommendations, blocks, events,
        envSources.keySet(), null);
  }

  private static HttpConfig http(ConfigNode n) {
    String host = n.string("host", "0.0.0.0");
    if (host.isEmpty()) {
      throw n.error("host", "must not be empty");
    }
    int port = n.integer("port", 8080, 0, 65535);
    int instances = n.integer("instances", 0, 0, 256);
    Duration idle = n.duration("idle-timeout", Duration.ofSeconds(30), Duration.ofSeconds(1), Duration.ofHours(1));
    Duration delay = n.duration("shutdown-delay", Duration.ZERO, Duration.ZERO, Duration.ofMinutes(1));
    Duration drain = n.duration("drain-timeout", Duration.ofSeconds(10), Duration.ZERO, Duration.ofSeconds(45));
    boolean accessLog = n.bool("access-log", false);
    n.rejectUnknown();
    return new HttpConfig(host, port, instances == 0 ? Runtime.getRuntime().availableProcessors() : instances, idle,
        delay, drain, accessLog);
  }

  private static ManagementConfig management(ConfigNode n) {
    String host = n.string("host", "0.0.0.0");
    int port = n.integer("port", 9091, 0, 65535);
    n.rejectUnknown();
    return new ManagementConfig(host, port);
  }

  private static RedisConfig redis(ConfigNode n) {
    RedisConfig.Mode mode = switch (n.string("mode", "standalone").trim().toLowerCase(Locale.ROOT)) {
      case "standalone" -> RedisConfig.Mode.STANDALONE;
      case "sentinel" -> RedisConfig.Mode.SENTINEL;
      case "cluster" -> RedisConfig.Mode.CLUSTER;
      default -> throw n.error("mode", "must be standalone, sentinel or cluster (got '" + n.string("mode", "") + "')");
    };
    List<String> urls = n.stringList("url", List.of("redis://127.0.0.1:6379"));
    if (urls.isEmpty()) {
      throw n.error("url", "is empty");
    }
    if (mode == RedisConfig.Mode.STANDALONE && urls.size() > 1) {
      throw n.error("url", "lists " + urls.size() + " servers, but mode is standalone: set mode to sentinel (the URLs "
          + "are Sentinels) or cluster (they are seed nodes)");
    }
    for (String url : urls) {
      checkRedisUrl(n, url, mode);
    }
    String masterName = n.string("master-name", "mymaster").trim();
    if (masterName.isEmpty()) {
      throw n.error("master-name", "is empty");
    }
    RedisConfig.ReadFrom readFrom = switch (n.string("read-from", "master").trim().toLowerCase(Locale.ROOT)) {
      case "master" -> RedisConfig.ReadFrom.MASTER;
      case "replicas" -> RedisConfig.ReadFrom.REPLICAS;
      case "any" -> RedisConfig.ReadFrom.ANY;
      default -> throw n.error("read-from", "must be master, replicas or any (got '" + n.string("read-from", "") + "')");
    };
    if (readFrom != RedisConfig.ReadFrom.MASTER && mode == RedisConfig.Mode.STANDALONE) {
      throw n.error("read-from", "needs replicas the gateway can find: use mode sentinel or cluster");
    }
    if (readFrom == RedisConfig.ReadFrom.ANY && mode == RedisConfig.Mode.SENTINEL) {
      throw n.error("read-from", "'any' is for cluster mode; with Sentinel use master or replicas");
    }
    String prefix = n.string("key-prefix", "profile:");
    if (prefix.indexOf('{') >= 0 || prefix.indexOf('}') >= 0) {
      throw n.error("key-prefix", "must not contain '{' or '}': the gateway puts the uid in braces (a hash tag)");
    }
    Duration deadline = n.duration("deadline", Duration.ofMillis(25), Duration.ofMillis(1), Duration.ofSeconds(10));
    Duration connect = n.duration("connect-timeout", Duration.ofSeconds(1), Duration.ofMillis(10), Duration.ofSeconds(60));
    ConfigNode b = n.child("breaker");
    int failures = b.integer("failures", 20, 1, 10_000);
    Duration reset = b.duration("reset-after", Duration.ofSeconds(1), Duration.ofMillis(10), Duration.ofMinutes(10));
    b.rejectUnknown();
    Duration reconnect = n.duration("reconnect-max-delay", Duration.ofSeconds(2), Duration.ofMillis(10), Duration.ofMinutes(5));
    Duration window = n.duration("batch-window", DEFAULT_BATCH_WINDOW, Duration.ZERO, Duration.ofMillis(5));
    if (window.compareTo(deadline) >= 0) {
      throw n.error("batch-window", "must be shorter than deadline (" + Durations.format(deadline) + "): a read waits "
          + "out the window before it is sent (got " + Durations.format(window) + ")");
    }
    n.rejectUnknown();
    return new RedisConfig(mode, urls, masterName, readFrom, prefix, deadline, connect, failures, reset, reconnect,
        window);
  }

  private static void checkRedisUrl(ConfigNode n, String url, RedisConfig.Mode mode) {
    try {
      URI uri = new URI(url);
      String scheme = uri.getScheme();
      if (!"redis".equals(scheme) && !"rediss".equals(scheme) && !"unix".equals(scheme)) {
        throw n.error("url", "must start with redis://, rediss:// or unix:// (got scheme '" + scheme + "')");
      }
      if ("unix".equals(scheme) && mode != RedisConfig.Mode.STANDALONE) {
        throw n.error("url", "unix:// sockets are for standalone mode only");
      }
      if (!"unix".equals(scheme) && (uri.getHost() == null || uri.getHost().isEmpty())) {
        throw n.error("url", "has no host");
      }
    } catch (URISyntaxException e) {
      throw n.error("url", "is not a valid URL");
    }
  }

  private static EventsConfig events(ConfigNode top) {
    KafkaConfig kafka = kafka(top.child("kafka"));
    UpdaterConfig updater = updater(top.child("updater"));
    ConfigNode consent = top.child("consent");
    boolean explicit = consent.bool("require-explicit", false);
    consent.rejectUnknown();
    LinksConfig links = links(top.child("links"));
    // "webhook keys need Kafka" is checked when the gateway starts: serve --demo adds its own Kafka after parsing.
    WebhookConfig webhook = webhook(top.child("webhook"));
    return new EventsConfig(kafka, updater, explicit, links, webhook);
  }

  private static KafkaConfig kafka(ConfigNode n) {
    List<String> servers = n.stringList("bootstrap-servers", List.of());
    for (String s : servers) {
      if (!HOST_PORT.matcher(s.trim()).matches()) {
        throw n.error("bootstrap-servers", "'" + s.trim() + "' is not host:port");
      }
    }
    String clientId = n.string("client-id", "opentime");
    if (!TOPIC_NAME.matcher(clientId).matches()) {
      throw n.error("client-id", "use A-Z, a-z, 0-9 and . _ - (got '" + clientId + "')");
    }
    ConfigNode t = n.child("topics");
    KafkaConfig.Topics topics = new KafkaConfig.Topics(topic(t, "profile-events", "opentime.profile-events"),
        topic(t, "opens", "opentime.opens"), topic(t, "clicks", "opentime.clicks"),
        topic(t, "dead-letter", "opentime.profile-events.dlq"));
    t.rejectUnknown();
    ConfigNode p = n.child("producer");
    int queue = p.integer("queue", 100_000, 1, 10_000_000);
    Duration maxBlock = p.duration("max-block", Duration.ofMillis(50), Duration.ZERO, Duration.ofSeconds(10));
    Duration delivery = p.duration("delivery-timeout", Duration.ofMinutes(5), Duration.ofSeconds(35), Duration.ofHours(24));
    p.rejectUnknown();
    ConfigNode props = n.child("properties");
    Map<String, String> properties = new LinkedHashMap<>();
    for (String k : props.keys()) {
      properties.put(k, props.string(k, ""));
    }
    n.rejectUnknown();
    return new KafkaConfig(String.join(",", servers.stream().map(String::trim).toList()), clientId, topics, queue,
        maxBlock, delivery, properties);
  }

  private static String topic(ConfigNode n, String key, String def) {
    String name = n.string(key, def);
    if (!TOPIC_NAME.matcher(name).matches()) {
      throw n.error(key, "topic names use A-Z, a-z, 0-9 and . _ - (max 249; got '" + name + "')");
    }
    return name;
  }

  private static UpdaterConfig updater(ConfigNode n) {
    boolean enabled = n.bool("enabled", true);
    int instances = n.integer("instances", 0, 0, 64);
    String group = n.string("group-id", "opentime-updater");
    if (!TOPIC_NAME.matcher(group).matches()) {
      throw n.error("group-id", "use A-Z, a-z, 0-9 and . _ - (got '" + group + "')");
    }
    int inFlight = n.integer("max-in-flight", 500, 1, 100_000);
    Duration deadline = n.duration("apply-deadline", Duration.ofSeconds(1), Duration.ofMillis(10), Duration.ofMinutes(1));
    Duration retry = n.duration("retry-max-delay", Duration.ofSeconds(5), Duration.ofMillis(10), Duration.ofMinutes(5));
    String channel = n.string("invalidation-channel", "opentime:invalidate");
    if (channel.isBlank() || channel.length() > 128) {
      throw n.error("invalidation-channel", "must be 1-128 characters");
    }
    n.rejectUnknown();
    return new UpdaterConfig(enabled, instances == 0 ? Runtime.getRuntime().availableProcessors() : instances, group,
        inFlight, deadline, retry, channel);
  }

  private static LinksConfig links(ConfigNode n) {
    ConfigNode t = n.child("targets");
    Map<String, String> targets = new LinkedHashMap<>();
    for (String id : t.keys()) {
      if (!LINK_ID.matcher(id).matches()) {
        throw t.error(id, "link ids use A-Z, a-z, 0-9 and _ . : - (max 128)");
      }
      String url = t.string(id, "");
      String problem = redirectProblem(url);
      if (problem != null) {
        throw t.error(id, problem);
      }
      targets.put(id, url);
    }
    String hash = n.string("redis-hash", "links");
    if (hash.isBlank()) {
      throw n.error("redis-hash", "must not be empty");
    }
    String fallback = n.string("fallback-url", "");
    if (!fallback.isEmpty() && redirectProblem(fallback) != null) {
      throw n.error("fallback-url", redirectProblem(fallback));
    }
    n.rejectUnknown();
    return new LinksConfig(targets, hash, fallback);
  }

  /** Why a URL cannot be a click target, or null: absolute http(s) with a host, no credentials, no line breaks. */
  public static String redirectProblem(String url) {
    if (url == null || url.isEmpty() || url.length() > 2048) {
      return "must be an absolute http or https URL of at most 2048 characters";
    }
    for (int i = 0; i < url.length(); i++) {
      char c = url.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return "must not contain spaces, control or non-ASCII characters (percent-encode them)";
      }
    }
    try {
      URI u = new URI(url);
      String scheme = u.getScheme();
      if (!"https".equals(scheme) && !"http".equals(scheme)) {
        return "must be an http or https URL (got '" + url + "')";
      }
      if (u.getHost() == null || u.getRawUserInfo() != null) {
        return "must name a host and carry no user:password (got '" + url + "')";
      }
    } catch (URISyntaxException e) {
      return "is not a valid URL (" + e.getReason() + ")";
    }
    return null;
  }

  private static WebhookConfig webhook(ConfigNode n) {
    List<String> specs = n.stringList("keys", List.of());
    TokenKeys keys;
    try {
      keys = TokenKeys.parse(String.join(",", specs));
    } catch (IllegalArgumentException e) {
      throw n.error("keys", e.getMessage());
    }
    int maxEvents = n.integer("max-events", 500, 1, 10_000);
    int maxBody = n.integer("max-body-bytes", 1 << 20, 1024, 16 << 20);
    Duration window = n.duration("replay-window", Duration.ofMinutes(5), Duration.ofSeconds(1), Duration.ofHours(1));
    Duration ack = n.duration("ack-timeout", Duration.ofSeconds(5), Duration.ofMillis(100), Duration.ofMinutes(1));
    n.rejectUnknown();
    return new WebhookConfig(keys, maxEvents, maxBody, window, ack);
  }

  private static TokenKeys tokens(ConfigNode n) {
    List<String> specs = n.stringList("keys", List.of());
    n.rejectUnknown();
    try {
      return TokenKeys.parse(String.join(",", specs));
    } catch (IllegalArgumentException e) {
      throw n.error("keys", e.getMessage());
    }
  }

  private static AmpConfig amp(ConfigNode n) {
    List<String> senders = n.stringList("senders", List.of());
    for (String s : senders) {
      String problem = senderProblem(s);
      if (problem != null) {
        throw n.error("senders", "'" + s + "' " + problem);
      }
    }
    List<String> origins = n.stringList("origins", DEFAULT_AMP_ORIGINS);
    for (String o : origins) {
      if (!o.matches("https://[A-Za-z0-9.-]+(:\\d{1,5})?")) {
        throw n.error("origins", "'" + o + "' must be an https origin such as https://mail.google.com (no path, no '*')");
      }
    }
    n.rejectUnknown();
    return new AmpConfig(senders, origins);
  }

  static String senderProblem(String s) {
    int at = s.indexOf('@');
    if (at <= 0 || at != s.lastIndexOf('@') || at == s.length() - 1) {
      return "must be an email address or *@domain";
    }
    String local = s.substring(0, at);
    String domain = s.substring(at + 1);
    if ((local.contains("*") && !local.equals("*")) || domain.contains("*")) {
      return "may use '*' only as the whole local part (*@domain)";
    }
    for (char c : s.toCharArray()) {
      if (c <= 0x20 || c >= 0x7f || c == ',' || c == '"') {
        return "contains a character not allowed in an address";
      }
    }
    return null;
  }

  private static CacheConfig cache(ConfigNode n) {
    long max = n.longValue("max-entries", 1_000_000, 1, 1_000_000_000);
    Duration refresh = n.duration("refresh-after", Duration.ofSeconds(5), Duration.ofMillis(1), Duration.ofDays(1));
    Duration expire = n.duration("expire-after", Duration.ofMinutes(10), Duration.ofMillis(1), Duration.ofDays(7));
    if (expire.compareTo(refresh) <= 0) {
      throw n.error("expire-after", "must be longer than cache.refresh-after (" + Durations.format(refresh) + ")");
    }
    n.rejectUnknown();
    return new CacheConfig(max, refresh, expire);
  }

  private static RecommendationsConfig recommendations(ConfigNode n) {
    String categories = n.string("categories-field", "recent_categories");
    String purchased = n.string("purchased-field", "purchased");
    for (String[] f : new String[][] {{"categories-field", categories}, {"purchased-field", purchased}}) {
      if (!FIELD_NAME.matcher(f[1]).matches()) {
        throw n.error(f[0], "'" + f[1] + "' is not a valid field name");
      }
    }
    int count = n.integer("categories", 3, 1, 20);
    int candidates = n.integer("candidates", 20, 1, 200);
    Duration refresh = n.duration("rankings-refresh", Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofDays(1));
    Duration ttl = n.duration("products-ttl", Duration.ofMinutes(5), Duration.ofSeconds(1), Duration.ofDays(1));
    n.rejectUnknown();
    return new RecommendationsConfig(categories, purchased, count, candidates, refresh, ttl);
  }

  private static String template(ConfigNode n) {
    String template = n.string("template", null);
    if (template != null && !TEMPLATE_NAME.matcher(template).matches()) {
      throw n.error("template", "must be a file name in the templates folder ending in .mustache, no path (got '"
          + template + "')");
    }
    return template;
  }

  private static SegmentsConfig segments(ConfigNode n) {
    List<String> fields = n.stringList("fields", List.of());
    for (String f : fields) {
      if (!FIELD_NAME.matcher(f).matches()) {
        throw n.error("fields", "'" + f + "' is not a valid field name");
      }
    }
    ConfigNode rulesNode = n.child("rules");
    Map<String, String> rules = new LinkedHashMap<>();
    for (String name : rulesNode.keys()) {
      if (!BLOCK_NAME.matcher(name).matches()) {
        throw rulesNode.error(name, "segment names use a-z, 0-9, '-' and '_' (max 64)");
      }
      String rule = rulesNode.string(name, "");
      if (rule.isBlank()) {
        throw rulesNode.error(name, "the rule is empty");
      }
      rules.put(name, rule);
    }
    n.rejectUnknown();
    return new SegmentsConfig(fields, rules);
  }

  private static Map<String, String> values(ConfigNode n, String key, List<BlockConfig.Field> fields) {
    ConfigNode v = n.child(key);
    Map<String, String> values = new LinkedHashMap<>();
    for (String k : v.keys()) {
      if (!FIELD_NAME.matcher(k).matches() || "variant".equals(k)) {
        throw v.error(k, "value names use A-Z, a-z, 0-9 and _ . : - (and 'variant' is reserved)");
      }
      if (fields.stream().anyMatch(f -> f.name().equals(k))) {
        throw v.error(k, "is already a profile field of this block");
      }
      values.put(k, v.string(k, ""));
    }
    return values;
  }

  private static Map<String, BlockConfig> blocks(ConfigNode n, SegmentsConfig segments) {
    Map<String, BlockConfig> blocks = new LinkedHashMap<>();
    for (String name : n.keys()) {
      ConfigNode b = n.child(name);
      if (!BLOCK_NAME.matcher(name).matches()) {
        throw n.error(name, "block names use a-z, 0-9, '-' and '_' (max 64)");
      }
      ConfigNode fieldsNode = b.child("fields");
      List<BlockConfig.Field> fields = new ArrayList<>();
      for (String f : fieldsNode.keys()) {
        if (!FIELD_NAME.matcher(f).matches()) {
          throw fieldsNode.error(f, "field names use A-Z, a-z, 0-9 and _ . : - (max 64)");
        }
        fields.add(new BlockConfig.Field(f, fieldsNode.string(f, "")));
      }
      if (fields.isEmpty()) {
        throw b.error("fields", "a block needs at least one field (name: default value)");
      }
      String template = template(b);
      int recommend = b.integer("recommend", 0, 0, 50);
      Map<String, String> values = values(b, "values", fields);
      List<BlockConfig.Variant> variants = new ArrayList<>();
      Object rawVariants = b.raw("variants");
      if (rawVariants != null) {
        if (!(rawVariants instanceof io.vertx.core.json.JsonArray list)) {
          throw b.error("variants", "must be a list of {segment, values, template}");
        }
        for (int i = 0; i < list.size(); i++) {
          if (!(list.getValue(i) instanceof JsonObject vo)) {
            throw b.error("variants", "entry " + (i + 1) + " must be a mapping");
          }
          ConfigNode vn = new ConfigNode(vo, b.where("variants") + "[" + (i + 1) + "]", Map.of());
          String segment = vn.string("segment", null);
          String data = vn.string("data", null);
          if ((segment == null) == (data == null)) {
            throw vn.error("segment", "a variant needs exactly one of segment (a rule name) or data (stale or defaulted)");
          }
          if (segment != null && !segments.rules().containsKey(segment)) {
            throw vn.error("segment", "must name a rule under segments.rules (got '" + segment + "')");
          }
          if (data != null && !data.equals("stale") && !data.equals("defaulted")) {
            throw vn.error("data", "must be stale or defaulted (got '" + data + "')");
          }
          if (data != null && variants.stream().anyMatch(v -> data.equals(v.data()))) {
            throw vn.error("data", "a block has at most one " + data + " variant");
          }
          String vTemplate = template(vn);
          if (vTemplate != null && template == null) {
            throw vn.error("template", "a variant template needs a block template for the default variant");
          }
          variants.add(new BlockConfig.Variant(segment, data, vTemplate, values(vn, "values", fields)));
          vn.rejectUnknown();
        }
      }
      b.rejectUnknown();
      if (recommend > 0 && !variants.isEmpty()) {
        throw b.error("variants", "a recommendations block has no variants (yet)");
      }
      blocks.put(name, new BlockConfig(name, fields, template, values, variants, recommend));
    }
    return blocks;
  }
}
