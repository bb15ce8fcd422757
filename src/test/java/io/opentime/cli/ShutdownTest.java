package io.opentime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.demo.EmbeddedKafka;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.support.EventsSetup;
import io.opentime.support.Http;
import io.opentime.support.TestConfig;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to a real gateway process: readiness turns DRAINING while it still serves, then it stops accepting and
 * every request already accepted gets its answer before the process exits.
 */
class ShutdownTest {

  @TempDir
  Path dir;

  @Test
  @DisplayName("SIGTERM mid-load: DRAINING, then no new connections, and every accepted request answered")
  void sigtermDrains() throws Exception {
    try (EmbeddedRedis redis = EmbeddedRedis.start(0)) {
      int port = TestConfig.freePort();
      int mgmt = TestConfig.freePort();
      Process gateway = serve(Path.of("conf/application.yaml"), "gateway.log", port, mgmt, redis, Map.of(
          "OPENTIME_REDIS_DEADLINE", "3s", "OPENTIME_SHUTDOWN_DELAY", "1s", "OPENTIME_ACCESS_LOG", "true"));
      try {
        awaitStatus("http://127.0.0.1:" + mgmt + "/health/ready", 200, Duration.ofSeconds(30));
        String metrics = Http.get("http://127.0.0.1:" + mgmt + "/metrics").body();
        assertThat(metrics).as("gateway and Vert.x meters in one registry").contains("opentime_answers_total")
            .contains("vertx_pool_in_use").contains("jvm_memory_used_bytes");
        var codec = new io.opentime.token.TokenCodec(io.opentime.token.TokenKeys.parse(TestConfig.KEY_SPEC),
            java.time.Clock.systemUTC());
        long exp = java.time.Instant.now().getEpochSecond() + 3600;

        // Requests that will still be in flight at SIGTERM: Redis is frozen, so each waits for its 3 s deadline.
        redis.pause();
        List<CompletableFuture<String>> inFlight = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          String token = codec.mint(new io.opentime.token.TokenClaims("slow-" + i, null, exp));
          inFlight.add(CompletableFuture.supplyAsync(() -> Http.raw(port, "GET /v1/amp/greeting?t=" + token
              + " HTTP/1.1", "AMP-Email-Sender: " + TestConfig.SENDER)));
        }
        TimeUnit.MILLISECONDS.sleep(500); // let them reach the gateway
        gateway.destroy(); // SIGTERM

        awaitStatus("http://127.0.0.1:" + mgmt + "/health/ready", 503, Duration.ofSeconds(5));
        String duringDelay = Http.raw(port, "GET /v1/amp/greeting?t=x HTTP/1.1", "AMP-Email-Sender: " + TestConfig.SENDER);
        assertThat(duringDelay).as("still serving while draining").startsWith("HTTP/1.1 200");

        long refusedBy = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        boolean refused = false;
        while (!refused && System.nanoTime() < refusedBy) {
          try {
            Http.raw(port, "GET /v1/amp/greeting?t=x HTTP/1.1", "AMP-Email-Sender: " + TestConfig.SENDER);
            TimeUnit.MILLISECONDS.sleep(50);
          } catch (java.io.UncheckedIOException e) {
            refused = e.getCause() instanceof ConnectException;
          }
        }
        assertThat(refused).as("new connections refused after the shutdown delay").isTrue();

        for (CompletableFuture<String> f : inFlight) {
          String answer = f.get(20, TimeUnit.SECONDS);
          assertThat(answer).startsWith("HTTP/1.1 200").contains("X-Opentime-Source: default")
              .contains("{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}");
        }
        assertThat(gateway.waitFor(20, TimeUnit.SECONDS)).as("process exited").isTrue();
        List<String> lines = Files.readAllLines(dir.resolve("gateway.log"));
        assertThat(lines).as("no warning from a clean start and stop").noneSatisfy(l -> assertThat(l)
            .contains("already registered"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("Opentime stopping"));
        assertThat(lines).anySatisfy(l -> assertThat(l).contains("opentime.access").contains("source=default"));
        for (String line : lines) {
          assertThat(new io.vertx.core.json.JsonObject(line).getString("level")).as(line).isNotNull(); // JSON lines
          assertThat(line).as("no secret, token or reader id in the logs")
              .doesNotContain(TestConfig.KEY_SPEC.substring(3)).doesNotContain("v1.t1.").doesNotContain("slow-")
              .doesNotContain("t=");
        }
      } finally {
        redis.resume();
        gateway.destroyForcibly();
      }
    }
  }

  @Test
  @DisplayName("SIGTERM with opens still waiting for Kafka: they are handed over before the process exits")
  void sigtermFlushesQueuedOpens() throws Exception {
    try (EmbeddedRedis redis = EmbeddedRedis.start(0); EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
      kafka.createTopics(1, "opens-shutdown", "opentime.clicks", "opentime.profile-events.dlq");
      kafka.createTopics(2, "opentime.profile-events");
      Path conf = TestConfig.copyConf(dir, yaml -> yaml.replace("opens: opentime.opens", "opens: opens-shutdown"));
      int port = TestConfig.freePort();
      int mgmt = TestConfig.freePort();
      Process gateway = serve(conf, "gateway-kafka.log", port, mgmt, redis, Map.of(
          "OPENTIME_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers(),
          "OPENTIME_UPDATER_INSTANCES", "2")); // two updaters: their meters must not collide
      try {
        awaitStatus("http://127.0.0.1:" + mgmt + "/health/ready", 200, Duration.ofSeconds(30));
        var codec = new io.opentime.token.TokenCodec(io.opentime.token.TokenKeys.parse(TestConfig.KEY_SPEC),
            java.time.Clock.systemUTC());
        String token = codec.mint(new io.opentime.token.TokenClaims("r-shutdown", null,
            java.time.Instant.now().getEpochSecond() + 3600));
        String pixel = "GET /v1/open/" + token + ".gif HTTP/1.1";
        assertThat(Http.raw(port, pixel)).startsWith("HTTP/1.1 200"); // the producer knows the topic now
        TimeUnit.SECONDS.sleep(1);
        kafka.stop();
        int n = 40;
        for (int i = 0; i < n; i++) {
          assertThat(Http.raw(port, pixel)).startsWith("HTTP/1.1 200");
        }
        // The gateway is told to stop while Kafka is away, and Kafka comes back a second later: only the shutdown's
        // wait for acknowledgements (up to 5 s) delivers these opens; a process that just exits loses them.
        gateway.destroy(); // SIGTERM
        TimeUnit.SECONDS.sleep(1);
        kafka.restart();
        assertThat(gateway.waitFor(30, TimeUnit.SECONDS)).as("process exited").isTrue();
        assertThat(EventsSetup.read(kafka.bootstrapServers(), "opens-shutdown", n + 2, Duration.ofSeconds(5)))
            .as("every open recorded before SIGTERM is on the topic").hasSize(n + 1);
        assertThat(Files.readAllLines(dir.resolve("gateway-kafka.log"))).as("no meter registered twice")
            .noneSatisfy(l -> assertThat(l).contains("already registered"));
      } finally {
        gateway.destroyForcibly();
      }
    }
  }

  @Test
  @DisplayName("SIGTERM with Kafka gone for good: the process still exits promptly")
  void sigtermWithKafkaGone() throws Exception {
    try (EmbeddedRedis redis = EmbeddedRedis.start(0)) {
      EmbeddedKafka kafka = EmbeddedKafka.start(0);
      kafka.createTopics(1, "opentime.opens", "opentime.clicks", "opentime.profile-events.dlq");
      kafka.createTopics(2, "opentime.profile-events");
      int port = TestConfig.freePort();
      int mgmt = TestConfig.freePort();
      Process gateway = serve(Path.of("conf/application.yaml"), "gateway-kafka-gone.log", port, mgmt, redis,
          Map.of("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers()));
      try {
        awaitStatus("http://127.0.0.1:" + mgmt + "/health/ready", 200, Duration.ofSeconds(30));
        TimeUnit.SECONDS.sleep(3); // the updaters have joined the group
        kafka.close(); // gone, not coming back
        long t0 = System.nanoTime();
        gateway.destroy(); // SIGTERM
        assertThat(gateway.waitFor(25, TimeUnit.SECONDS)).as("process exited").isTrue();
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        // Drain (none in flight), updater commit and close (3 s each at most), publisher flush (5 s at most).
        assertThat(seconds).as("seconds from SIGTERM to exit").isLessThan(20);
      } finally {
        gateway.destroyForcibly();
      }
    }
  }

  /**
   * {@code serve} as its own process, with production logging (JSON lines) into {@code log} in the test's folder, on
   * loopback ports, the test key and sender, the given Redis, and any further settings.
   */
  Process serve(Path config, String log, int port, int mgmt, EmbeddedRedis redis, Map<String, String> env)
      throws IOException {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dlogback.configurationFile=logback.xml", // production logging, not the tests' text format
        "-cp", System.getProperty("java.class.path"), "io.opentime.Main", "serve", "-c", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(log).toFile());
    pb.environment().put("OPENTIME_HTTP_HOST", "127.0.0.1");
    pb.environment().put("OPENTIME_HTTP_PORT", Integer.toString(port));
    pb.environment().put("OPENTIME_MANAGEMENT_PORT", Integer.toString(mgmt));
    pb.environment().put("OPENTIME_REDIS_URL", redis.url());
    pb.environment().put("OPENTIME_TOKEN_KEYS", TestConfig.KEY_SPEC);
    pb.environment().put("OPENTIME_AMP_SENDERS", TestConfig.SENDER);
    pb.environment().putAll(env);
    return pb.start();
  }

  static void awaitStatus(String url, int status, Duration max) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    int last = -1;
    while (System.nanoTime() < deadline) {
      try {
        last = Http.get(url).statusCode();
        if (last == status) {
          return;
        }
      } catch (RuntimeException notYet) {
        // not listening yet
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
    throw new AssertionError(url + " never answered " + status + " (last " + last + ")");
  }
}
