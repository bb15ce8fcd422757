package io.opentime.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads the YAML file and the {@code OPENTIME_*} environment with vertx-config, once, and validates them.
 *
 * <p>Without an explicit file it uses {@code conf/application.yaml} from the working directory, or else the copy
 * built into the jar, so the jar runs from anywhere.
 */
public final class ConfigLoader {

  public static final String DEFAULT_PATH = "conf/application.yaml";

  private ConfigLoader() {
  }

  /** Where the configuration will be read from, for start-up messages. */
  public static String describeSource(Path explicit) {
    if (explicit != null) {
      return explicit.toString();
    }
    return Files.isRegularFile(Path.of(DEFAULT_PATH)) ? DEFAULT_PATH : "built-in " + DEFAULT_PATH;
  }

  /**
   * Loads and validates the configuration.
   *
   * @param explicit a file named on the command line (must exist), or null for the default
   * @return the config, or a failed future with a {@link ConfigException} naming the problem
   */
  public static Future<GatewayConfig> load(Vertx vertx, Path explicit) {
    if (explicit != null && !Files.isRegularFile(explicit)) {
      return Future.failedFuture(new ConfigException("config file not found: " + explicit));
    }
    String path = explicit != null ? explicit.toString() : DEFAULT_PATH;
    JsonArray envKeys = new JsonArray();
    ConfigParser.ENV_OVERRIDES.keySet().forEach(envKeys::add);
    ConfigRetrieverOptions options = new ConfigRetrieverOptions()
        .setIncludeDefaultStores(false)
        .setScanPeriod(-1)
        .addStore(new ConfigStoreOptions().setType("file").setFormat("yaml").setOptional(false)
            .setConfig(new JsonObject().put("path", path)))
        .addStore(new ConfigStoreOptions().setType("env")
            .setConfig(new JsonObject().put("keys", envKeys).put("raw-data", true)));
    ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
    // The two stores are merged by vertx-config; split them again so env values are validated by name.
    return retriever.getConfig()
        .eventually(retriever::close)
        .recover(err -> Future.failedFuture(new ConfigException(
            "cannot read config file " + path + ": " + oneLine(err))))
        .map(merged -> {
          Map<String, String> env = new HashMap<>();
          JsonObject file = merged.copy();
          for (String var : ConfigParser.ENV_OVERRIDES.keySet()) {
            Object v = file.remove(var);
            if (v != null) {
              env.put(var, v.toString());
            }
          }
          Path source = explicit != null ? explicit : Path.of(DEFAULT_PATH);
          Path templates = Files.isRegularFile(source) ? source.toAbsolutePath().getParent().resolve("templates") : null;
          return ConfigParser.parse(file, env).withTemplatesDir(templates);
        });
  }

  private static String oneLine(Throwable err) {
    Throwable root = err;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String msg = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return msg.replace('\n', ' ');
  }
}
