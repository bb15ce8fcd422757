package io.opentime.support;

import io.opentime.config.ConfigParser;
import io.opentime.config.GatewayConfig;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/** Configuration for tests: the shipped conf/application.yaml, a free port, a test key, a test sender. */
public final class TestConfig {

  public static final String SENDER = "news@shop.example";
  public static final String DOMAIN_SENDERS = "*@mail.shop.example";
  /** A fixed test-only key (not a secret: it signs nothing outside the tests). */
  public static final String KEY_SPEC = "t1:" + Base64.getEncoder().encodeToString(new byte[32]);

  private TestConfig() {
  }

  /**
   * Copies the shipped configuration (YAML, after the given edits, and its templates folder) into a directory,
   * as a user would deploy it, and returns the YAML file.
   */
  public static Path copyConf(Path dir, java.util.function.UnaryOperator<String> edit) {
    try {
      Path yaml = dir.resolve("application.yaml");
      Files.writeString(yaml, edit.apply(Files.readString(Path.of("conf/application.yaml"))));
      Path templates = Files.createDirectories(dir.resolve("templates"));
      try (var files = Files.list(Path.of("conf/templates"))) {
        for (Path f : files.toList()) {
          Files.copy(f, templates.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      return yaml;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The shipped YAML as a tree. */
  public static JsonObject shippedYaml() {
    try {
      String text = Files.readString(Path.of("conf/application.yaml"));
      Object tree = new org.yaml.snakeyaml.Yaml().load(text);
      @SuppressWarnings("unchecked")
      Map<String, Object> map = (Map<String, Object>) tree;
      return new JsonObject(map);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The shipped config, pointed at a Redis, on a free port, with the test key and senders. */
  public static GatewayConfig forRedis(String redisUrl, Map<String, String> extraEnv) {
    Map<String, String> env = new HashMap<>();
    env.put("OPENTIME_REDIS_URL", redisUrl);
    env.put("OPENTIME_HTTP_HOST", "127.0.0.1");
    env.put("OPENTIME_HTTP_PORT", Integer.toString(freePort()));
    env.put("OPENTIME_MANAGEMENT_HOST", "127.0.0.1");
    env.put("OPENTIME_MANAGEMENT_PORT", "0");
    env.put("OPENTIME_TOKEN_KEYS", KEY_SPEC);
    env.put("OPENTIME_AMP_SENDERS", SENDER + "," + DOMAIN_SENDERS);
    env.putAll(extraEnv);
    return ConfigParser.parse(shippedYaml(), env);
  }

  public static int freePort() {
    try {
      return io.opentime.demo.EmbeddedRedis.freePort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
