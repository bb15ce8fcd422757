import io.opentime.demo.EmbeddedKafka;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenCodec;
import io.opentime.token.TokenKeys;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The events benchmark (issue #4): on this machine, loopback only, against a real Redis, a real Kafka broker (in
 * this JVM) and the gateway as its own process.
 *
 * <ol>
 *   <li>Event to fresh answer: a cached reader's profile changes through an event produced to Kafka; the time until
 *       the gateway answers the new value (p50, p99 over SAMPLES events, one at a time).</li>
 *   <li>Pixel vs cache-hit greeting JSON, A/B rounds with wrk (the same run): the pixel must reach 80%. Then every
 *       open the gateway recorded must be on the opens topic: both counts printed, after a graceful stop.</li>
 *   <li>Updater: EVENTS profile events (duplicates and shuffled order included) produced while no updater runs, then
 *       one updater started on them: applied events per second, and the Redis state compared with the expected
 *       one, reader by reader.</li>
 * </ol>
 *
 * <p>{@code java -cp target/opentime-gateway.jar bench/EventsBench.java} (bench/events.sh does that).
 */
public final class EventsBench {

  static final Path ROOT = Path.of("").toAbsolutePath();
  static final String JAR = env("OPENTIME_JAR", ROOT.resolve("target/opentime-gateway.jar").toString());
  static final int DURATION = Integer.parseInt(env("DURATION", "10"));
  static final int ROUNDS = Integer.parseInt(env("ROUNDS", "3"));
  static final int SAMPLES = Integer.parseInt(env("SAMPLES", "200"));
  static final int READERS = Integer.parseInt(env("EVENT_READERS", "20000"));
  static final String CONNECTIONS = env("CONNECTIONS", "64");
  static final String THREADS = env("THREADS", "2");
  static final String JAVA_OPTS = env("JAVA_OPTS", "");
  static final String SENDER = "bench@opentime.example";
  static final String PROFILE_EVENTS = "opentime.profile-events";
  static final String OPENS = "opentime.opens";
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  static String env(String name, String def) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? def : v;
  }

  static Path out;
  static int failed;
  static final List<String> summary = new ArrayList<>();

  public static void main(String[] args) {
    try {
      run();
    } catch (Throwable e) {
      // Vert.x and Kafka threads would keep the JVM alive after a failure: report and exit.
      System.out.println("ERROR: " + e);
      e.printStackTrace(System.out);
      System.exit(1);
    }
  }

  static void run() throws Exception {
    out = ROOT.resolve("bench/out/events-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    Files.createDirectories(out);
    System.out.printf("Opentime events benchmark, %s, %d cores, DURATION=%ds ROUNDS=%d SAMPLES=%d EVENT_READERS=%d%n",
        Instant.now(), Runtime.getRuntime().availableProcessors(), DURATION, ROUNDS, SAMPLES, READERS);
    System.out.println("  logs and wrk output: " + ROOT.relativize(out));
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    String keySpec = "bench:" + Base64.getEncoder().encodeToString(secret); // kept in this process and its child only
    TokenCodec codec = new TokenCodec(TokenKeys.parse(keySpec), java.time.Clock.systemUTC());
    long exp = Instant.now().plus(Duration.ofDays(1)).getEpochSecond();

    try (EmbeddedRedis redis = EmbeddedRedis.start(0); EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
      kafka.createTopics(4, PROFILE_EVENTS);
      kafka.createTopics(1, OPENS, "opentime.clicks", "opentime.profile-events.dlq");
      System.out.println("  Redis " + redis.url() + ", Kafka " + kafka.bootstrapServers() + " (in this JVM), "
          + PROFILE_EVENTS + " with 4 partitions");
      Vertx vertx = Vertx.vertx();
      Redis client = Redis.createClient(vertx, redis.url());
      client.send(Request.cmd(Command.HSET).arg("profile:{u0}").arg("first_name").arg("Ada").arg("loyalty_tier").arg("gold"))
          .await();
      Path hot = out.resolve("hot-token.txt");
      Files.writeString(hot, codec.mint(new TokenClaims("u0", "bench", exp)) + "\n");

      try (KafkaProducer<String, String> producer = producer(kafka.bootstrapServers())) {
        Gateway gw = Gateway.start(1, redis.url(), kafka.bootstrapServers(), keySpec, "bench-updater-1");

        // 1. event to fresh answer
        System.out.println();
        System.out.println("== event to fresh answer: " + SAMPLES + " events (after 20 unmeasured), one at a time, "
            + "each for a cached reader");
        long[] lat = new long[SAMPLES];
        for (int i = -20; i < SAMPLES; i++) {
          String uid = "lat-" + i;
          client.send(Request.cmd(Command.HSET).arg("profile:{" + uid + "}").arg("first_name").arg("before")).await();
          String url = gw.base + "/v1/amp/greeting?t=" + codec.mint(new TokenClaims(uid, "bench", exp));
          if (!get(url).contains("before")) {
            throw new IllegalStateException("reader " + uid + " not answered from Redis");
          }
          String event = new JsonObject().put("id", "lat-" + i).put("uid", uid).put("type", "attribute")
              .put("time", Instant.now().toString())
              .put("attributes", new JsonObject().put("first_name", "after-" + i)).encode();
          long t0 = System.nanoTime();
          producer.send(new ProducerRecord<>(PROFILE_EVENTS, uid, event));
          long deadline = t0 + TimeUnit.SECONDS.toNanos(10);
          while (!get(url).contains("after-" + i)) {
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException("event " + i + " not seen in 10 s");
            }
          }
          if (i >= 0) {
            lat[i] = System.nanoTime() - t0;
          }
        }
        Arrays.sort(lat);
        double p50 = lat[lat.length / 2] / 1e6;
        double p99 = lat[(int) Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] / 1e6;
        System.out.printf("  produced -> changed answer: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", p50, p99,
            lat[lat.length - 1] / 1e6);
        verdict(String.format("event to fresh answer p99 = %.1f ms (target < 100 ms)", p99), p99 < 100);

        // 2. pixel vs cache-hit greeting
        System.out.println();
        System.out.printf("== pixel vs cache-hit greeting JSON: %d A/B rounds of %ds, %s connections%n", ROUNDS,
            DURATION, CONNECTIONS);
        wrk(gw, hot, "/v1/amp/greeting", 5, "warmup-greeting");
        wrk(gw, hot, "/v1/open/@OPENTIME_TOKEN@.gif", 5, "warmup-pixel");
        List<Double> greet = new ArrayList<>();
        List<Double> pixel = new ArrayList<>();
        long pixelAnswers = 0;
        for (int r = 1; r <= ROUNDS; r++) {
          Map<String, String> g = wrk(gw, hot, "/v1/amp/greeting", DURATION, "greeting-" + r);
          Map<String, String> p = wrk(gw, hot, "/v1/open/@OPENTIME_TOKEN@.gif", DURATION, "pixel-" + r);
          greet.add(Double.parseDouble(g.get("rps")));
          pixel.add(Double.parseDouble(p.get("rps")));
          System.out.printf("  round %d: greeting %s req/s (p99 %s ms; gateway %s cores), pixel %s req/s (p99 %s ms, "
              + "non-200 %s; gateway %s cores, Kafka broker %s cores)%n", r, g.get("rps"), g.get("p99"),
              g.get("gw_cores"), p.get("rps"), p.get("p99"), p.get("non200"), p.get("gw_cores"), p.get("broker_cores"));
        }
        double ratio = median(pixel) / median(greet);
        System.out.printf("  medians: greeting %.0f req/s, pixel %.0f req/s%n", median(greet), median(pixel));
        verdict(String.format("pixel / cache-hit greeting = %.2f (target >= 0.80)", ratio), ratio >= 0.80);
        Map<String, Double> m = gw.metrics();
        double tracked = sum(m, "opentime_events_tracked_total{kind=\"open\"");
        double notTracked = sum(m, "opentime_events_not_tracked_total{kind=\"open\"");
        double dropped = sum(m, "opentime_events_dropped_total");
        double rss = gw.rssMiB();
        gw.stop(); // graceful: the publisher hands what is queued to Kafka before the process exits
        long onTopic = endOffsets(kafka.bootstrapServers(), OPENS, 1);
        System.out.printf("  opens recorded by the gateway: %.0f (not recorded: %.0f, dropped: %.0f); opens on the topic "
            + "after a graceful stop: %d; gateway RSS before stop %.0f MiB%n", tracked, notTracked, dropped, onTopic, rss);
        verdict("every recorded open is on the topic (" + (long) tracked + " recorded, " + onTopic + " on the topic)",
            onTopic == (long) tracked && tracked > 0);

        // 3. updater throughput and exactly-once effect
        System.out.println();
        int perReader = 12;
        System.out.printf("== updater: %d readers x %d events + 10%% duplicates, shuffled, produced before the updater"
            + " starts%n", READERS, perReader);
        List<String[]> events = updates(READERS);
        Random rnd = new Random(7);
        int dups = events.size() / 10;
        for (int i = 0; i < dups; i++) {
          events.add(events.get(rnd.nextInt(events.size())));
        }
        Collections.shuffle(events, rnd);
        long p0 = System.nanoTime();
        List<Future<?>> acks = new ArrayList<>();
        for (String[] kv : events) {
          acks.add(producer.send(new ProducerRecord<>(PROFILE_EVENTS, kv[0], kv[1])));
        }
        for (Future<?> f : acks) {
          f.get(60, TimeUnit.SECONDS);
        }
        System.out.printf("  produced %d events (%d duplicates) in %.1f s%n", events.size(), dups,
            (System.nanoTime() - p0) / 1e9);
        long total = endOffsets(kafka.bootstrapServers(), PROFILE_EVENTS, 4);
        Gateway up = Gateway.start(2, redis.url(), kafka.bootstrapServers(), keySpec, "bench-updater-2");
        double first = -1;
        long tFirst = 0;
        long tDone = 0;
        double applied = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (System.nanoTime() < deadline) {
          applied = sum(up.metrics(), "opentime_updater_applied_total");
          long now = System.nanoTime();
          if (first < 0 && applied > 0) {
            first = applied;
            tFirst = now;
          }
          if (applied >= total) {
            tDone = now;
            break;
          }
          Thread.sleep(50);
        }
        if (tDone == 0) {
          throw new IllegalStateException("updater applied " + applied + " of " + total + " events in 5 minutes");
        }
        double rate = (applied - first) / ((tDone - tFirst) / 1e9);
        System.out.printf("  applied %.0f events (all on the topic, including stage 1's) at %.0f events/s%n", applied, rate);
        verdict(String.format("updater rate = %.0f events/s (target >= 20000)", rate), rate >= 20_000);
        int ok = 0;
        for (int i = 0; i < READERS; i++) {
          Response r = client.send(Request.cmd(Command.HMGET).arg("profile:{ev-" + i + "}").arg("first_name")
              .arg("last_view_category").arg("cart_items").arg("orders_365d")).await();
          if (("name-" + (i % 97) + "-4").equals(str(r.get(0))) && "cat-b".equals(str(r.get(1)))
              && "p-2".equals(str(r.get(2))) && "2".equals(str(r.get(3)))) {
            ok++;
          }
        }
        System.out.printf("  Redis equals the expected state for %d of %d readers%n", ok, READERS);
        verdict("exactly-once effect: " + ok + "/" + READERS + " readers as expected", ok == READERS);
        up.stop();
      }
      client.close();
      vertx.close().await();
    }
    System.out.println();
    System.out.println("== summary");
    summary.forEach(s -> System.out.println("  " + s));
    System.out.println("  " + (summary.size() - failed) + " passed, " + failed + " failed");
    System.exit(0);
  }

  static String str(Response r) {
    return r == null ? null : r.toString();
  }

  /**
   * Per reader, 12 events: 5 renames, 2 page views, cart add/remove/add, 2 orders (odd readers' second order arrives
   * with the id of the first event kind, so ids and orders differ); the expected end state is known.
   */
  static List<String[]> updates(int readers) {
    Instant t0 = Instant.now().minus(Duration.ofHours(2));
    List<String[]> out = new ArrayList<>();
    for (int i = 0; i < readers; i++) {
      String uid = "ev-" + i;
      for (int j = 0; j < 5; j++) {
        out.add(kv(uid, ev(uid, "n" + j, "attribute", t0.plusSeconds(j),
            new JsonObject().put("attributes", new JsonObject().put("first_name", "name-" + (i % 97) + "-" + j)))));
      }
      out.add(kv(uid, ev(uid, "v1", "page_view", t0.plusSeconds(10), new JsonObject().put("category", "cat-a"))));
      out.add(kv(uid, ev(uid, "v2", "page_view", t0.plusSeconds(11), new JsonObject().put("category", "cat-b"))));
      out.add(kv(uid, ev(uid, "c1", "cart_add", t0.plusSeconds(20), new JsonObject().put("product", "p-1"))));
      out.add(kv(uid, ev(uid, "c2", "cart_remove", t0.plusSeconds(21), new JsonObject().put("product", "p-1"))));
      out.add(kv(uid, ev(uid, "c3", "cart_add", t0.plusSeconds(22), new JsonObject().put("product", "p-2"))));
      if (i % 2 == 0) {
        out.add(kv(uid, ev(uid, "o1", "purchase", t0.plusSeconds(5), new JsonObject().put("order", "o1")
            .put("products", new io.vertx.core.json.JsonArray().add("p-9")).put("amount", 10))));
      }
      out.add(kv(uid, ev(uid, "o2", "purchase", t0.plusSeconds(6), new JsonObject().put("order", i % 2 == 0 ? "o2" : "o1")
          .put("products", new io.vertx.core.json.JsonArray().add("p-8")).put("amount", 5))));
      if (i % 2 != 0) {
        out.add(kv(uid, ev(uid, "o3", "purchase", t0.plusSeconds(7), new JsonObject().put("order", "o3")
            .put("products", new io.vertx.core.json.JsonArray().add("p-7")).put("amount", 5))));
      }
    }
    return out;
  }

  static String[] kv(String k, String v) {
    return new String[] {k, v};
  }

  static String ev(String uid, String id, String type, Instant time, JsonObject data) {
    JsonObject e = new JsonObject().put("id", uid + "-" + id).put("uid", uid).put("type", type)
        .put("time", time.toString());
    data.forEach(en -> e.put(en.getKey(), en.getValue()));
    return e.encode();
  }

  static void verdict(String text, boolean ok) {
    if (!ok) {
      failed++;
    }
    String line = (ok ? "PASS  " : "FAIL  ") + text;
    summary.add(line);
    System.out.println("  " + line);
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  static double sum(Map<String, Double> metrics, String prefix) {
    return metrics.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue).sum();
  }

  static String get(String url) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(url)).header("AMP-Email-Sender", SENDER)
        .timeout(Duration.ofSeconds(5)).build();
    return HTTP.send(req, HttpResponse.BodyHandlers.ofString()).body();
  }

  static KafkaProducer<String, String> producer(String bootstrap) {
    Map<String, Object> p = new HashMap<>();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
  }

  static long endOffsets(String bootstrap, String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      Map<TopicPartition, OffsetSpec> q = new HashMap<>();
      for (int i = 0; i < partitions; i++) {
        q.put(new TopicPartition(topic, i), OffsetSpec.latest());
      }
      return admin.listOffsets(q).all().get().values().stream().mapToLong(v -> v.offset()).sum();
    }
  }

  static final Pattern RESULT_FIELD = Pattern.compile("(\\w+)=(\\S+)");

  static Map<String, String> wrk(Gateway gw, Path tokens, String path, int seconds, String label) throws Exception {
    Path log = out.resolve("wrk-" + label + ".txt");
    ProcessBuilder pb = new ProcessBuilder("wrk", "-t" + THREADS, "-c" + CONNECTIONS, "-d" + seconds + "s",
        "--timeout", "2s", "-s", ROOT.resolve("bench/wrk/greeting.lua").toString(), gw.base, "--", tokens.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("OPENTIME_PATH", path);
    pb.environment().put("OPENTIME_SENDER", SENDER);
    long gw0 = cpuTicks(gw.process.pid());
    long self0 = cpuTicks(ProcessHandle.current().pid());
    Process p = pb.start();
    if (!p.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("wrk did not finish: " + log);
    }
    String result = Files.readAllLines(log).stream().filter(l -> l.startsWith("RESULT ")).findFirst()
        .orElseThrow(() -> new IllegalStateException("no RESULT line in " + log));
    Map<String, String> fields = new HashMap<>();
    Matcher m = RESULT_FIELD.matcher(result);
    while (m.find()) {
      fields.put(m.group(1), m.group(2));
    }
    // CPU used during the run, in cores (100 ticks per second): the gateway, and this JVM (the Kafka broker)
    fields.put("gw_cores", String.format(Locale.ROOT, "%.2f", (cpuTicks(gw.process.pid()) - gw0) / 100.0 / seconds));
    fields.put("broker_cores", String.format(Locale.ROOT, "%.2f",
        (cpuTicks(ProcessHandle.current().pid()) - self0) / 100.0 / seconds));
    return fields;
  }

  static long cpuTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** The gateway as its own process, on free ports. */
  static final class Gateway {
    final Process process;
    final String base;
    final String management;

    Gateway(Process process, int port, int mgmt) {
      this.process = process;
      this.base = "http://127.0.0.1:" + port;
      this.management = "http://127.0.0.1:" + mgmt;
    }

    static Gateway start(int n, String redisUrl, String kafka, String keySpec, String group) throws Exception {
      int port = EmbeddedRedis.freePort();
      int mgmt = EmbeddedRedis.freePort();
      List<String> cmd = new ArrayList<>(List.of("java"));
      if (!JAVA_OPTS.isBlank()) {
        cmd.addAll(List.of(JAVA_OPTS.trim().split("\\s+")));
      }
      cmd.addAll(List.of("-jar", JAR, "serve"));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(out.resolve("gateway-" + n + ".log").toFile());
      Map<String, String> env = pb.environment();
      env.put("OPENTIME_HTTP_HOST", "127.0.0.1");
      env.put("OPENTIME_HTTP_PORT", Integer.toString(port));
      env.put("OPENTIME_MANAGEMENT_HOST", "127.0.0.1");
      env.put("OPENTIME_MANAGEMENT_PORT", Integer.toString(mgmt));
      env.put("OPENTIME_REDIS_URL", redisUrl);
      env.put("OPENTIME_TOKEN_KEYS", keySpec);
      env.put("OPENTIME_AMP_SENDERS", SENDER);
      env.put("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", kafka);
      env.put("OPENTIME_UPDATER_GROUP_ID", group);
      Gateway gw = new Gateway(pb.start(), port, mgmt);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        if (!gw.process.isAlive()) {
          throw new IllegalStateException("gateway " + n + " exited; see its log in " + out);
        }
        try {
          if (HTTP.send(HttpRequest.newBuilder(URI.create(gw.management + "/health/ready")).build(),
              HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
            break;
          }
        } catch (IOException notYet) {
          // starting
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("gateway " + n + " not ready in 60 s");
        }
        Thread.sleep(100);
      }
      System.out.println("  gateway #" + n + ": pid " + gw.process.pid() + ", " + gw.base + " (updater group " + group + ")");
      return gw;
    }

    Map<String, Double> metrics() throws Exception {
      String text = HTTP.send(HttpRequest.newBuilder(URI.create(management + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      Map<String, Double> m = new HashMap<>();
      for (String line : text.split("\n")) {
        if (line.startsWith("opentime_")) {
          int sp = line.lastIndexOf(' ');
          try {
            m.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
          } catch (NumberFormatException ignored) {
            // not a sample line
          }
        }
      }
      return m;
    }

    double rssMiB() throws IOException {
      for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
      }
      return -1;
    }

    void stop() throws InterruptedException {
      process.destroy(); // SIGTERM: the gateway drains and flushes its event queue
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
