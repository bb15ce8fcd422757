package io.opentime.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.config.ConfigParser;
import io.opentime.config.Durations;
import io.opentime.support.Http;
import io.opentime.support.EventsSetup;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestKafka;
import io.opentime.support.TestRedis;
import io.opentime.support.TestConfig;
import io.opentime.token.TokenKeys;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.yaml.snakeyaml.Yaml;

/**
 * The operations files are code too: alert rules, the dashboard and the Kubernetes manifests must parse, and every
 * metric they query must exist in a real gateway's /metrics. (promtool checks and unit-tests the rules too, where
 * installed: conf/prometheus/check.sh.)
 */
@ExtendWith(VertxExtension.class)
class OpsArtifactsTest {

  static RunningGateway gw;
  static Set<String> exposed;
  static final Pattern METRIC = Pattern.compile("\\b((?:opentime|cache|jvm|process|system|kafka)_[a-z_]+)\\b");

  @BeforeAll
  static void scrape(Vertx vertx) {
    // With events on (Kafka, updater), so the event and Kafka client meters exist too.
    gw = new RunningGateway(vertx, EventsSetup.config(TestRedis.shared().url(), TestKafka.bootstrapServers(), Map.of()));
    gw.greeting("ops-reader");
    exposed = new HashSet<>();
    for (String line : Http.get(gw.management() + "/metrics").body().split("\n")) {
      if (!line.startsWith("#") && !line.isBlank()) {
        exposed.add(line.split("[{ ]")[0]);
      }
    }
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  static void assertExposed(String where, String expr) {
    Matcher m = METRIC.matcher(expr);
    int found = 0;
    while (m.find()) {
      found++;
      assertThat(exposed).as("%s queries %s", where, m.group(1)).contains(m.group(1));
    }
    assertThat(found).as("%s names a metric", where).isPositive();
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> yamlDocs(Path file) throws IOException {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object o : new Yaml().loadAll(Files.readString(file))) {
      docs.add((Map<String, Object>) o);
    }
    return docs;
  }

  @Test
  @DisplayName("every alert rule is complete and queries metrics the gateway exposes")
  @SuppressWarnings("unchecked")
  void alertRules() throws IOException {
    Map<String, Object> doc = yamlDocs(Path.of("conf/prometheus/opentime-alerts.yml")).get(0);
    List<Map<String, Object>> rules = new ArrayList<>();
    for (Map<String, Object> group : (List<Map<String, Object>>) doc.get("groups")) {
      rules.addAll((List<Map<String, Object>>) group.get("rules"));
    }
    assertThat(rules).extracting(r -> r.get("alert")).contains("OpentimeFallbackRatioHigh", "OpentimeSlowAnswers",
        "OpentimeRedisBreakerOpen", "OpentimeRedisDisconnected");
    for (Map<String, Object> rule : rules) {
      String name = (String) rule.get("alert");
      assertThat(rule).as(name).containsKeys("expr", "for", "labels", "annotations");
      assertThat(((Map<String, Object>) rule.get("labels")).get("severity")).as(name).isIn("warning", "critical");
      assertThat(((Map<String, Object>) rule.get("annotations")).get("summary")).as(name).isNotNull();
      if (!"OpentimeGatewayDown".equals(name)) {
        assertExposed("alert " + name, (String) rule.get("expr"));
      }
    }
  }

  @Test
  @DisplayName("every dashboard panel queries metrics the gateway exposes")
  void dashboard() throws IOException {
    JsonObject dash = new JsonObject(Files.readString(Path.of("conf/grafana/opentime-dashboard.json")));
    JsonArray panels = dash.getJsonArray("panels");
    assertThat(panels).hasSizeGreaterThanOrEqualTo(8);
    for (Object p : panels) {
      JsonObject panel = (JsonObject) p;
      JsonArray targets = panel.getJsonArray("targets");
      assertThat(targets).as(panel.getString("title")).isNotEmpty();
      for (Object t : targets) {
        assertExposed("panel '" + panel.getString("title") + "'", ((JsonObject) t).getString("expr"));
      }
    }
  }

  @Test
  @DisplayName("the Kubernetes manifests are consistent with each other and with the gateway's configuration")
  @SuppressWarnings("unchecked")
  void kubernetes() throws IOException {
    Map<String, Map<String, Object>> byKind = new HashMap<>();
    try (Stream<Path> files = Files.list(Path.of("deploy/kubernetes"))) {
      for (Path f : files.filter(f -> f.toString().endsWith(".yaml")).toList()) {
        for (Map<String, Object> doc : yamlDocs(f)) {
          byKind.put((String) doc.get("kind"), doc);
        }
      }
    }
    assertThat(byKind).containsKeys("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "ConfigMap", "Secret");

    Map<String, Object> deployment = byKind.get("Deployment");
    String name = (String) ((Map<String, Object>) deployment.get("metadata")).get("name");
    Map<String, Object> spec = (Map<String, Object>) deployment.get("spec");
    Map<String, Object> labels = (Map<String, Object>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
    Map<String, Object> podSpec = (Map<String, Object>) ((Map<String, Object>) spec.get("template")).get("spec");
    Map<String, Object> container = ((List<Map<String, Object>>) podSpec.get("containers")).get(0);
    Map<String, Object> ports = new HashMap<>();
    for (Map<String, Object> p : (List<Map<String, Object>>) container.get("ports")) {
      ports.put((String) p.get("name"), p.get("containerPort"));
    }
    assertThat(ports).containsEntry("http", 8080).containsEntry("management", 9091);
    Map<String, Object> ready = (Map<String, Object>) ((Map<String, Object>) container.get("readinessProbe")).get("httpGet");
    Map<String, Object> live = (Map<String, Object>) ((Map<String, Object>) container.get("livenessProbe")).get("httpGet");
    assertThat(ready).containsEntry("path", "/health/ready").containsEntry("port", "management");
    assertThat(live).containsEntry("path", "/health/live").containsEntry("port", "management");

    Map<String, Object> hpaTarget = (Map<String, Object>) ((Map<String, Object>) byKind.get("HorizontalPodAutoscaler")
        .get("spec")).get("scaleTargetRef");
    assertThat(hpaTarget).containsEntry("kind", "Deployment").containsEntry("name", name);
    assertThat(((Map<String, Object>) ((Map<String, Object>) byKind.get("PodDisruptionBudget").get("spec"))
        .get("selector")).get("matchLabels")).isEqualTo(labels);
    assertThat(((Map<String, Object>) byKind.get("Service").get("spec")).get("selector")).isEqualTo(labels);

    Map<String, Object> env = (Map<String, Object>) byKind.get("ConfigMap").get("data");
    assertThat(ConfigParser.ENV_OVERRIDES.keySet()).containsAll(env.keySet());
    long grace = ((Number) podSpec.get("terminationGracePeriodSeconds")).longValue();
    long needed = Durations.parse((String) env.get("OPENTIME_SHUTDOWN_DELAY")).toSeconds()
        + Durations.parse((String) env.get("OPENTIME_DRAIN_TIMEOUT")).toSeconds();
    assertThat(grace).as("grace period covers shutdown delay + drain").isGreaterThan(needed);

    String placeholder = (String) ((Map<String, Object>) byKind.get("Secret").get("stringData")).get("OPENTIME_TOKEN_KEYS");
    assertThatThrownBy(() -> TokenKeys.parse(placeholder)).as("the committed Secret holds no usable key")
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  @DisplayName("the container image runs as a non-root user with a health check on the management port")
  void dockerfile() throws IOException {
    String dockerfile = Files.readString(Path.of("Dockerfile"));
    assertThat(dockerfile).contains("FROM maven:").contains("AS build").contains("USER opentime")
        .contains("HEALTHCHECK").contains("/health/live").contains("EXPOSE 8080 9091")
        .contains("MaxRAMPercentage");
  }

  @Test
  @DisplayName("the benchmarks run the gateway with the image's garbage-collector options")
  void benchmarkJvmOptionsMatchTheImage() throws IOException {
    String dockerfile = Files.readString(Path.of("Dockerfile"));
    Matcher env = Pattern.compile("ENV JAVA_TOOL_OPTIONS=\"([^\"]*)\"").matcher(dockerfile);
    assertThat(env.find()).as("the Dockerfile sets JAVA_TOOL_OPTIONS").isTrue();
    List<String> image = List.of(env.group(1).split(" "));
    String lib = Files.readString(Path.of("bench/lib.sh"));
    Matcher echo = Pattern.compile("gateway_jvm_defaults\\(\\) \\{\\s*echo \"([^\"]*)\"").matcher(lib);
    assertThat(echo.find()).as("bench/lib.sh defines gateway_jvm_defaults").isTrue();
    List<String> bench = List.of(echo.group(1).trim().split(" +"));
    // The image's own concerns stay out of the benchmarks: its heap sized from the container's memory, the collector
    // it names (G1, the JVM's default anyway) and exiting on OutOfMemoryError. Every other option is tuning.
    List<String> tuning = image.stream()
        .filter(o -> !o.startsWith("-XX:MaxRAMPercentage=") && !o.equals("-XX:+UseG1GC")
            && !o.equals("-XX:+ExitOnOutOfMemoryError"))
        .toList();
    assertThat(tuning).as("the image tunes its collector").isNotEmpty();
    assertThat(bench).as("the benchmarks run the gateway with exactly the image's tuning options")
        .containsExactlyInAnyOrderElementsOf(tuning);
  }
}
