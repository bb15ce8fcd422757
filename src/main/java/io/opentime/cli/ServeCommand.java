package io.opentime.cli;

import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.opentime.Gateway;
import io.opentime.Main;
import io.opentime.config.AmpConfig;
import io.opentime.config.ConfigException;
import io.opentime.config.ConfigLoader;
import io.opentime.config.Durations;
import io.opentime.config.GatewayConfig;
import io.opentime.config.HttpConfig;
import io.opentime.config.KafkaConfig;
import io.opentime.config.WebhookConfig;
import io.opentime.demo.DemoData;
import io.opentime.demo.EmbeddedKafka;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.token.TokenKey;
import io.opentime.token.TokenKeys;
import io.vertx.core.Vertx;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code serve}: runs the gateway until SIGTERM/SIGINT. With {@code --demo}, on a local Redis with demo readers and
 * a local Kafka broker for events (each unless one is configured).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the gateway (the default command).")
public final class ServeCommand implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);
  /** The sender the demo allows when none is configured. */
  public static final String DEMO_SENDER = "news@opentime.example";

  @Spec
  CommandSpec spec;

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "Configuration file (default: conf/application.yaml).")
  Path config;

  @Option(names = "--demo", description = "Start a local Redis with demo readers and a local Kafka broker (unless "
      + "configured), ephemeral token and webhook keys unless configured, and print ready-to-paste commands.")
  boolean demo;

  /** What a running serve holds; closed by the shutdown hook. */
  public record Running(Vertx vertx, Gateway gateway, EmbeddedRedis redis, EmbeddedKafka kafka, GatewayConfig config) {
  }

  @Override
  public Integer call() throws Exception {
    Running running = start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(running), "opentime-shutdown"));
    return Main.KEEP_RUNNING;
  }

  /** Starts everything; on failure releases what was started and rethrows. */
  public Running start() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Vertx vertx = Main.newVertx(registry);
    EmbeddedRedis redis = null;
    EmbeddedKafka kafka = null;
    try {
      GatewayConfig cfg = Main.block(ConfigLoader.load(vertx, config));
      if (demo) {
        if (!cfg.setByEnvironment("redis.url")) {
          redis = EmbeddedRedis.start(0);
          cfg = cfg.withRedis(cfg.redis().withUrl(redis.url()));
        }
        if (!cfg.events().kafka().enabled()) {
          kafka = EmbeddedKafka.start(0);
          KafkaConfig.Topics t = cfg.events().kafka().topics();
          kafka.createTopics(3, t.profileEvents());
          kafka.createTopics(1, t.opens(), t.clicks(), t.deadLetter());
          cfg = cfg.withEvents(cfg.events().withKafka(cfg.events().kafka().withBootstrapServers(kafka.bootstrapServers())));
        }
        cfg = demoDefaults(cfg);
        Main.block(DemoData.load(vertx, cfg.redis(), cfg.events().links().redisHash()));
      } else {
        requireProductionSettings(cfg);
      }
      Gateway gateway = Main.block(Gateway.start(vertx, cfg, registry, Clock.systemUTC(), Ticker.systemTicker()));
      LOG.info("Opentime listening on {}:{} ({} HTTP instances, {} transport), management on {}:{}, Redis {}, "
          + "config {}", cfg.http().host(), cfg.http().port(), cfg.http().instances(),
          vertx.isNativeTransportEnabled() ? "native" : "JDK NIO", cfg.management().host(), gateway.managementPort(),
          cfg.redis().describe(), ConfigLoader.describeSource(config));
      Running running = new Running(vertx, gateway, redis, kafka, cfg);
      if (demo) {
        PrintWriter out = spec.commandLine().getOut();
        DemoBanner.print(out, cfg, redis != null, kafka != null);
        out.flush();
      }
      return running;
    } catch (Exception | Error e) {
      Main.closeQuietly(vertx); // first, so its Redis and Kafka connections close before the demo servers go away
      if (kafka != null) {
        kafka.close();
      }
      if (redis != null) {
        redis.close();
      }
      throw e;
    }
  }

  /**
   * The shutdown sequence (SIGTERM, SIGINT): readiness says DRAINING, the servers keep serving for the shutdown
   * delay, then stop accepting and finish in-flight requests within the drain timeout; then Vert.x and any demo
   * Redis close. Runs on the shutdown-hook thread, never an event loop.
   */
  public static void stop(Running running) {
    HttpConfig http = running.config().http();
    LOG.info("Opentime stopping: draining for {} then up to {} for in-flight requests",
        Durations.format(http.shutdownDelay()), Durations.format(http.drainTimeout()));
    running.gateway().beginDrain();
    pause(http.shutdownDelay());
    try {
      Main.block(running.gateway().stop());
    } catch (Exception e) {
      LOG.warn("gateway did not stop cleanly: {}", e.getMessage());
    }
    Main.closeQuietly(running.vertx());
    if (running.kafka() != null) {
      running.kafka().close();
    }
    if (running.redis() != null) {
      running.redis().close();
    }
  }

  private static void pause(Duration d) {
    try {
      TimeUnit.MILLISECONDS.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void requireProductionSettings(GatewayConfig cfg) {
    if (cfg.tokenKeys().isEmpty()) {
      throw new ConfigException("no token keys: set OPENTIME_TOKEN_KEYS=kid:base64secret (32+ random bytes) or "
          + "tokens.keys in the config file (or try serve --demo)");
    }
    if (cfg.amp().senders().isEmpty()) {
      throw new ConfigException("amp.senders is empty, so every AMP request would be refused: set OPENTIME_AMP_SENDERS "
          + "(e.g. news@shop.example,*@mail.shop.example)");
    }
  }

  private static GatewayConfig demoDefaults(GatewayConfig cfg) {
    if (cfg.tokenKeys().isEmpty()) {
      byte[] secret = new byte[32];
      new SecureRandom().nextBytes(secret);
      cfg = cfg.withTokenKeys(new TokenKeys(List.of(new TokenKey("demo", secret))));
    }
    if (cfg.amp().senders().isEmpty()) {
      cfg = cfg.withAmp(new AmpConfig(List.of(DEMO_SENDER), cfg.amp().origins()));
    }
    WebhookConfig webhook = cfg.events().webhook();
    if (!webhook.enabled() && cfg.events().kafka().enabled()) {
      byte[] secret = new byte[32];
      new SecureRandom().nextBytes(secret);
      cfg = cfg.withEvents(cfg.events().withWebhook(new WebhookConfig(new TokenKeys(List.of(new TokenKey("demo", secret))),
          webhook.maxEvents(), webhook.maxBodyBytes(), webhook.replayWindow(), webhook.ackTimeout())));
    }
    return cfg;
  }
}
