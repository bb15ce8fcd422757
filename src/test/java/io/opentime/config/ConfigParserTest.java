package io.opentime.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.support.TestConfig;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ConfigParserTest {

  static GatewayConfig parse(Map<String, String> env) {
    return ConfigParser.parse(TestConfig.shippedYaml(), env);
  }

  static JsonObject yaml(String path, Object value) {
    JsonObject root = TestConfig.shippedYaml();
    String[] p = path.split("\\.");
    JsonObject node = root;
    for (int i = 0; i < p.length - 1; i++) {
      if (!(node.getValue(p[i]) instanceof JsonObject)) {
        node.put(p[i], new JsonObject());
      }
      node = node.getJsonObject(p[i]);
    }
    node.put(p[p.length - 1], value);
    return root;
  }

  @Test
  @DisplayName("the shipped configuration parses to the documented defaults")
  void shippedDefaults() {
    GatewayConfig c = parse(Map.of());
    assertThat(c.http().port()).isEqualTo(8080);
    assertThat(c.http().instances()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(c.redis().url()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.redis().deadline()).isEqualTo(Duration.ofMillis(25));
    assertThat(c.redis().profileKey("u1")).isEqualTo("profile:{u1}");
    assertThat(c.cache().refreshAfter()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.cache().expireAfter()).isEqualTo(Duration.ofMinutes(10));
    assertThat(c.cache().maxEntries()).isEqualTo(1_000_000);
    assertThat(c.tokenKeys().isEmpty()).isTrue();
    assertThat(c.amp().senders()).isEmpty();
    assertThat(c.amp().origins()).containsExactly("https://mail.google.com", "https://amp.gmail.dev");
    assertThat(c.blocks().get("greeting").fields()).containsExactly(
        new BlockConfig.Field("first_name", "there"), new BlockConfig.Field("loyalty_tier", "member"));
  }

  @Test
  @DisplayName("an empty file yields the same defaults as the shipped one, minus the blocks")
  void emptyFile() {
    GatewayConfig c = ConfigParser.parse(new JsonObject(), Map.of());
    assertThat(c.http().port()).isEqualTo(8080);
    assertThat(c.blocks()).isEmpty();
  }

  @Test
  @DisplayName("environment variables override the file and are remembered as such")
  void envOverrides() {
    String key = "k9:" + Base64.getEncoder().encodeToString(new byte[32]);
    GatewayConfig c = parse(Map.of(
        "OPENTIME_HTTP_PORT", "9000",
        "OPENTIME_REDIS_URL", "redis://redis.internal:6380",
        "OPENTIME_TOKEN_KEYS", key + ",old:" + Base64.getEncoder().encodeToString(new byte[33]),
        "OPENTIME_AMP_SENDERS", "news@shop.example, *@mail.shop.example",
        "OPENTIME_AMP_ORIGINS", "https://mail.google.com",
        "OPENTIME_REDIS_DEADLINE", "40ms",
        "OPENTIME_CACHE_MAX_ENTRIES", "5000",
        "OPENTIME_HTTP_INSTANCES", "3"));
    assertThat(c.http().port()).isEqualTo(9000);
    assertThat(c.http().instances()).isEqualTo(3);
    assertThat(c.redis().url()).isEqualTo("redis://redis.internal:6380");
    assertThat(c.redis().deadline()).isEqualTo(Duration.ofMillis(40));
    assertThat(c.tokenKeys().signing().kid()).isEqualTo("k9");
    assertThat(c.tokenKeys().keys()).hasSize(2);
    assertThat(c.amp().senders()).containsExactly("news@shop.example", "*@mail.shop.example");
    assertThat(c.amp().origins()).containsExactly("https://mail.google.com");
    assertThat(c.cache().maxEntries()).isEqualTo(5000);
    assertThat(c.setByEnvironment("redis.url")).isTrue();
    assertThat(c.setByEnvironment("http.host")).isFalse();
  }

  @Test
  @DisplayName("Redis topologies: mode, seed lists, master name and read-from, each misuse refused by name")
  void redisTopologies() {
    RedisConfig standalone = parse(Map.of()).redis();
    assertThat(standalone.mode()).isEqualTo(RedisConfig.Mode.STANDALONE);
    assertThat(standalone.readFrom()).isEqualTo(RedisConfig.ReadFrom.MASTER);
    assertThat(standalone.masterName()).isEqualTo("mymaster");

    RedisConfig cluster = parse(Map.of("OPENTIME_REDIS_MODE", "Cluster",
        "OPENTIME_REDIS_URL", "redis://10.0.0.1:7000, redis://:s3cret@10.0.0.2:7000",
        "OPENTIME_REDIS_READ_FROM", "any")).redis();
    assertThat(cluster.mode()).isEqualTo(RedisConfig.Mode.CLUSTER);
    assertThat(cluster.urls()).containsExactly("redis://10.0.0.1:7000", "redis://:s3cret@10.0.0.2:7000");
    assertThat(cluster.readFrom()).isEqualTo(RedisConfig.ReadFrom.ANY);
    assertThat(cluster.describe()).isEqualTo("cluster redis://10.0.0.1:7000,redis://***@10.0.0.2:7000, reads from any")
        .doesNotContain("s3cret");

    RedisConfig sentinel = parse(Map.of("OPENTIME_REDIS_MODE", "sentinel",
        "OPENTIME_REDIS_URL", "redis://s1:26379,redis://s2:26379", "OPENTIME_REDIS_MASTER_NAME", "profiles",
        "OPENTIME_REDIS_READ_FROM", "replicas")).redis();
    assertThat(sentinel.urls()).hasSize(2);
    assertThat(sentinel.masterName()).isEqualTo("profiles");
    assertThat(sentinel.describe()).isEqualTo("sentinel redis://s1:26379,redis://s2:26379 (master profiles), "
        + "reads from replicas");

    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_MODE", "replicated")))
        .hasMessageContaining("OPENTIME_REDIS_MODE").hasMessageContaining("standalone, sentinel or cluster");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_URL", "redis://a:1,redis://b:2")))
        .hasMessageContaining("lists 2 servers, but mode is standalone");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_READ_FROM", "replicas")))
        .hasMessageContaining("OPENTIME_REDIS_READ_FROM").hasMessageContaining("use mode sentinel or cluster");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_MODE", "sentinel", "OPENTIME_REDIS_READ_FROM", "any")))
        .hasMessageContaining("'any' is for cluster mode");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_READ_FROM", "nearest")))
        .hasMessageContaining("master, replicas or any");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_MODE", "cluster",
        "OPENTIME_REDIS_URL", "redis://a:1,http://b:2"))).hasMessageContaining("must start with redis://");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_MODE", "cluster", "OPENTIME_REDIS_URL", "unix:///r.sock")))
        .hasMessageContaining("standalone mode only");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("redis.master-name", " "), Map.of()))
        .hasMessageContaining("master-name").hasMessageContaining("is empty");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("redis.key-prefix", "p:{x}:"), Map.of()))
        .hasMessageContaining("must not contain '{'");
  }

  @Test
  @DisplayName("blank environment variables are ignored")
  void blankEnvIgnored() {
    assertThat(parse(Map.of("OPENTIME_HTTP_PORT", " ")).http().port()).isEqualTo(8080);
  }

  @Test
  @DisplayName("a bad value from the environment names the variable")
  void envErrorNamesVariable() {
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_HTTP_PORT", "eighty")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("config error in OPENTIME_HTTP_PORT (http.port): must be a whole number (got 'eighty')");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_HTTP_PORT", "70000")))
        .hasMessageContaining("must be between 0 and 65535 (got 70000)");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_URL", "http://x")))
        .hasMessageContaining("OPENTIME_REDIS_URL (redis.url): must start with redis://");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_DEADLINE", "25")))
        .hasMessageContaining("OPENTIME_REDIS_DEADLINE (redis.deadline): not a duration");
  }

  @Test
  @DisplayName("a bad token key names the variable and the key id, never the secret")
  void tokenKeyErrorsHideSecret() {
    String shortSecret = Base64.getEncoder().encodeToString("sixteen-byte-key".getBytes());
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_TOKEN_KEYS", "k1:" + shortSecret)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("OPENTIME_TOKEN_KEYS (tokens.keys): key 'k1': secret must be at least 32 bytes")
        .hasMessageNotContaining(shortSecret);
  }

  @Test
  @DisplayName("a misspelt key is refused with its full path")
  void unknownKey() {
    assertThatThrownBy(() -> ConfigParser.parse(yaml("redis.dealine", "25ms"), Map.of()))
        .hasMessage("config error in redis.dealine: unknown key (check the spelling; every key is listed in the README)");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("htp.port", 1), Map.of()))
        .hasMessageContaining("config error in htp: unknown key");
  }

  @Test
  @DisplayName("durations, ranges and cross-checks are validated")
  void ranges() {
    assertThatThrownBy(() -> ConfigParser.parse(yaml("cache.expire-after", "1s"), Map.of()))
        .hasMessageContaining("cache.expire-after: must be longer than cache.refresh-after (5s)");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("redis.deadline", "0ms"), Map.of()))
        .hasMessageContaining("redis.deadline: must be between 1ms and 10s (got 0s)");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("redis.breaker.failures", 0), Map.of()))
        .hasMessageContaining("redis.breaker.failures: must be between 1 and 10000");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("http", "8080"), Map.of()))
        .hasMessageContaining("http: must be a mapping");
  }

  @Test
  @DisplayName("senders must be addresses or *@domain; origins must be bare https origins")
  void ampValidation() {
    for (String bad : List.of("news", "*@*.shop.example", "a*b@shop.example", "@shop.example", "news@", "a@b@c", "n ews@x.y")) {
      assertThatThrownBy(() -> parse(Map.of("OPENTIME_AMP_SENDERS", bad))).as(bad)
          .isInstanceOf(ConfigException.class).hasMessageContaining("OPENTIME_AMP_SENDERS (amp.senders)");
    }
    for (String bad : List.of("*", "http://mail.google.com", "https://mail.google.com/", "https://*.google.com")) {
      assertThatThrownBy(() -> parse(Map.of("OPENTIME_AMP_ORIGINS", bad))).as(bad)
          .hasMessageContaining("OPENTIME_AMP_ORIGINS (amp.origins)");
    }
  }

  @Test
  @DisplayName("blocks need a valid name and at least one field")
  void blockValidation() {
    assertThatThrownBy(() -> ConfigParser.parse(yaml("blocks.Bad Name.fields.a", "x"), Map.of()))
        .hasMessageContaining("blocks.Bad Name: block names use");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("blocks.empty.fields", new JsonObject()), Map.of()))
        .hasMessageContaining("blocks.empty.fields: a block needs at least one field");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("blocks.greeting.fieldz", new JsonObject()), Map.of()))
        .hasMessageContaining("blocks.greeting.fieldz: unknown key");
    for (String bad : List.of("../secret.mustache", "/etc/passwd", "a/b.mustache", "greeting.html")) {
      assertThatThrownBy(() -> ConfigParser.parse(yaml("blocks.greeting.template", bad), Map.of())).as(bad)
          .hasMessageContaining("blocks.greeting.template: must be a file name in the templates folder");
    }
  }

  @Test
  @DisplayName("variants must name a configured segment; values may not shadow profile fields")
  void variantValidation() {
    JsonObject bad = yaml("blocks.offer.variants", new io.vertx.core.json.JsonArray()
        .add(new JsonObject().put("segment", "nope")));
    assertThatThrownBy(() -> ConfigParser.parse(bad, Map.of()))
        .hasMessageContaining("blocks.offer.variants[1].segment: must name a rule under segments.rules (got 'nope')");
    JsonObject badData = yaml("blocks.offer.variants", new io.vertx.core.json.JsonArray()
        .add(new JsonObject().put("data", "old")));
    assertThatThrownBy(() -> ConfigParser.parse(badData, Map.of()))
        .hasMessageContaining("blocks.offer.variants[1].data: must be stale or defaulted (got 'old')");
    JsonObject both = yaml("blocks.offer.variants", new io.vertx.core.json.JsonArray()
        .add(new JsonObject().put("data", "stale").put("segment", "lapsed")));
    assertThatThrownBy(() -> ConfigParser.parse(both, Map.of())).hasMessageContaining("exactly one of segment");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("blocks.offer.values.first_name", "x"), Map.of()))
        .hasMessageContaining("blocks.offer.values.first_name: is already a profile field of this block");
    assertThat(parse(Map.of()).segments().rules()).containsKeys("champions", "cart_abandoned", "browsed_not_bought",
        "lapsed", "engaged");
  }

  @Test
  @DisplayName("redis.batch-window: 250us by default, set by file or environment, zero allowed, bounded by 5ms and "
      + "the deadline")
  void batchWindow() {
    assertThat(parse(Map.of()).redis().batchWindow()).isEqualTo(Duration.ofNanos(250_000));
    assertThat(parse(Map.of("OPENTIME_REDIS_BATCH_WINDOW", "0ms")).redis().batchWindow()).isZero();
    assertThat(parse(Map.of("OPENTIME_REDIS_BATCH_WINDOW", "1ms")).redis().batchWindow())
        .isEqualTo(Duration.ofMillis(1));
    assertThat(ConfigParser.parse(yaml("redis.batch-window", "100us"), Map.of()).redis().batchWindow())
        .isEqualTo(Duration.ofNanos(100_000));
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_BATCH_WINDOW", "6ms")))
        .hasMessageContaining("OPENTIME_REDIS_BATCH_WINDOW (redis.batch-window): must be between 0s and 5ms (got 6ms)");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_BATCH_WINDOW", "250")))
        .hasMessageContaining("OPENTIME_REDIS_BATCH_WINDOW (redis.batch-window): not a duration");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_REDIS_BATCH_WINDOW", "2ms", "OPENTIME_REDIS_DEADLINE", "2ms")))
        .hasMessageContaining("must be shorter than deadline (2ms)");
  }

  @Test
  @DisplayName("durations parse with every unit and reject bare numbers")
  void durations() {
    assertThat(Durations.parse("25ms")).isEqualTo(Duration.ofMillis(25));
    assertThat(Durations.parse("31d")).isEqualTo(Duration.ofDays(31));
    assertThat(Durations.parse(" 2h ")).isEqualTo(Duration.ofHours(2));
    assertThat(Durations.format(Duration.ofDays(31))).isEqualTo("31d");
    assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(Durations.parse("250us")).isEqualTo(Duration.ofNanos(250_000));
    assertThat(Durations.format(Duration.ofNanos(250_000))).isEqualTo("250us");
    assertThat(Durations.format(Duration.ofNanos(1_500_000))).isEqualTo("1500us");
    assertThat(Durations.format(Duration.ofMillis(2))).isEqualTo("2ms");
    assertThatThrownBy(() -> Durations.parse("5")).hasMessageContaining("not a duration: '5'");
    assertThatThrownBy(() -> Durations.parse("5ns")).hasMessageContaining("use a number and us, ms, s, m, h or d");
    assertThatThrownBy(() -> Durations.parse("-5s")).hasMessageContaining("not a duration");
  }

  @Test
  @DisplayName("events: defaults, environment overrides and every rejected value names its key")
  void eventsSettings() {
    EventsConfig e = parse(Map.of()).events();
    assertThat(e.kafka().enabled()).isFalse();
    assertThat(e.kafka().topics()).isEqualTo(new KafkaConfig.Topics("opentime.profile-events", "opentime.opens",
        "opentime.clicks", "opentime.profile-events.dlq"));
    assertThat(e.kafka().queueCapacity()).isEqualTo(100_000);
    assertThat(e.kafka().deliveryTimeout()).isEqualTo(Duration.ofMinutes(5));
    assertThat(e.updater().enabled()).isTrue();
    assertThat(e.updater().groupId()).isEqualTo("opentime-updater");
    assertThat(e.updater().invalidationChannel()).isEqualTo("opentime:invalidate");
    assertThat(e.requireExplicitConsent()).isFalse();
    assertThat(e.links().redisHash()).isEqualTo("links");
    assertThat(e.webhook().enabled()).isFalse();

    String webhookKey = "w1:" + Base64.getEncoder().encodeToString(new byte[32]);
    EventsConfig env = parse(Map.of("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092",
        "OPENTIME_UPDATER_ENABLED", "false", "OPENTIME_UPDATER_GROUP_ID", "shop-updaters",
        "OPENTIME_CONSENT_REQUIRE_EXPLICIT", "true", "OPENTIME_LINKS_FALLBACK_URL", "https://shop.example/",
        "OPENTIME_WEBHOOK_KEYS", webhookKey)).events();
    assertThat(env.kafka().bootstrapServers()).isEqualTo("k1:9092,k2:9092");
    assertThat(env.updater().enabled()).isFalse();
    assertThat(env.updater().groupId()).isEqualTo("shop-updaters");
    assertThat(env.requireExplicitConsent()).isTrue();
    assertThat(env.links().fallbackUrl()).isEqualTo("https://shop.example/");
    assertThat(env.webhook().keys().signing().kid()).isEqualTo("w1");

    assertThatThrownBy(() -> parse(Map.of("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", "kafka.internal")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("kafka.bootstrap-servers")
        .hasMessageContaining("OPENTIME_KAFKA_BOOTSTRAP_SERVERS").hasMessageContaining("host:port");
    assertThatThrownBy(() -> parse(Map.of("OPENTIME_LINKS_FALLBACK_URL", "javascript:alert(1)")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("links.fallback-url");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("links.targets", new JsonObject().put("home", "/relative")), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("links.targets.home");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("links.targets", new JsonObject().put("a b", "https://x.example/")),
        Map.of())).isInstanceOf(ConfigException.class).hasMessageContaining("link ids");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("kafka.topics", new JsonObject().put("opens", "bad topic")), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("kafka.topics.opens");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("kafka.topics", new JsonObject().put("openz", "x")), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("openz");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("kafka.producer", new JsonObject().put("delivery-timeout", "5s")),
        Map.of())).isInstanceOf(ConfigException.class).hasMessageContaining("kafka.producer.delivery-timeout");
    assertThatThrownBy(() -> ConfigParser.parse(yaml("updater", new JsonObject().put("max-in-flight", 0)), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("updater.max-in-flight");
  }
}
