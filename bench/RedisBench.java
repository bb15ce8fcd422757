import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.ProtocolVersion;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * Redis's own ceiling for the gateway's two Redis operations (the missing input of the capacity model in
 * docs/benchmarks.md): how many profile reads and how many profile updates per second one Redis server (one core)
 * answers, and what each costs Redis in CPU.
 *
 * <ul>
 *   <li>read: exactly the gateway's {@code HMGET profile:{<uid>} <11 schema fields>} on hashes of 8 fields;</li>
 *   <li>update: the gateway's {@code events/apply.lua} (read from the jar, loaded with SCRIPT LOAD), called with
 *       EVALSHA and the ARGV layout of {@code io.opentime.events.ProfileWriter}: an {@code attribute} event setting
 *       {@code first_name} (EVENTS=attribute), or 60% page_view / 25% cart_add / 15% attribute (EVENTS=mix), with
 *       event times increasing by 1 ms per event (every event is the newest of its reader);</li>
 *   <li>random readers over PROFILES; CONNECTIONS long-lived RESP2 connections, one per event loop (as the gateway),
 *       each keeping IN_FLIGHT commands pipelined.</li>
 * </ul>
 *
 * <p>Three phases, each WARMUP s unmeasured then DURATION s measured: reads only, updates only, READ_SHARE% reads.
 * Before each phase the load stops and the program waits (IDLE_WAIT s at most) until no Maven surefire JVM runs on
 * the machine, then prints how busy the machine was over 1 s. Per phase: ops/s, client p50/p99, Redis's
 * {@code INFO commandstats} (reset with CONFIG RESETSTAT when the measured window starts), Redis's process CPU
 * (utime+stime of REDIS_PID in /proc), the machine's CPU split into Redis / this client / others, and two per-core
 * bounds: 1e6 / usec_per_call (command execution only) and 1e6 / (Redis CPU µs per op) (everything Redis does for
 * an op: protocol parsing, syscalls, the command).
 *
 * <pre>
 * java -cp target/opentime-gateway.jar bench/RedisBench.java load redis://127.0.0.1:PORT PROFILES
 * java -cp target/opentime-gateway.jar bench/RedisBench.java run  redis://127.0.0.1:PORT REDIS_PID
 * </pre>
 * bench/redis.sh starts the Redis and runs both (knobs: DURATION, WARMUP, CONNECTIONS, IN_FLIGHT, PROFILES, EVENTS,
 * READ_SHARE, IDLE_WAIT, CLK_TCK).
 */
public final class RedisBench {

  /** The gateway's profile read: the schema's fields (conf/application.yaml), in the order it sends them. */
  static final List<String> READ_FIELDS = List.of("first_name", "loyalty_tier", "last_purchase_at", "orders_365d",
      "spend_365d", "engagement_score", "last_view_at", "last_view_category", "cart_updated_at", "recent_categories",
      "purchased");
  static final String CHANNEL = "opentime:invalidate"; // updater.invalidation-channel's default
  static final String[] NAMES = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"};
  static final String[] TIERS = {"gold", "silver", "bronze", "member"};

  static final int DURATION = intEnv("DURATION", 10);
  static final int WARMUP = intEnv("WARMUP", 3);
  static final int CONNECTIONS = intEnv("CONNECTIONS", 2);
  static final int IN_FLIGHT = intEnv("IN_FLIGHT", 128);
  static final int PROFILES = intEnv("PROFILES", 100_000);
  static final int READ_SHARE = intEnv("READ_SHARE", 90);
  static final int IDLE_WAIT = intEnv("IDLE_WAIT", 600);
  static final int CLK_TCK = intEnv("CLK_TCK", 100);
  static final String EVENTS = System.getenv().getOrDefault("EVENTS", "attribute");
  static final int CORES = Runtime.getRuntime().availableProcessors();

  /** Event times: one shared clock, 1 ms per event, so each event is later than every event sent before it. */
  static final AtomicLong EVENT_CLOCK = new AtomicLong(Instant.parse("2026-01-01T00:00:00Z").toEpochMilli());

  public static void main(String[] args) throws Exception {
    if (args.length != 3 || !(args[0].equals("load") || args[0].equals("run"))) {
      System.err.println("usage: java -cp opentime-gateway.jar bench/RedisBench.java load redis://127.0.0.1:PORT PROFILES");
      System.err.println("       java -cp opentime-gateway.jar bench/RedisBench.java run  redis://127.0.0.1:PORT REDIS_PID");
      System.exit(2);
    }
    if (!EVENTS.equals("attribute") && !EVENTS.equals("mix")) {
      System.err.println("EVENTS must be attribute or mix");
      System.exit(2);
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(CONNECTIONS));
    int code = 0;
    try {
      if (args[0].equals("load")) {
        load(vertx, args[1], Integer.parseInt(args[2]));
      } else {
        run(vertx, args[1], Integer.parseInt(args[2]));
      }
    } catch (Exception e) {
      System.out.println("RedisBench failed: " + e);
      e.printStackTrace(System.out);
      code = 1;
    } finally {
      get(vertx.close(), 10);
    }
    System.exit(code);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Loading: HSET profile:{u<i>} with 8 of the 11 read fields (values like bench/LoadProfiles.java's), pipelined in
  // batches of 1000 with at most 8 batches in flight, driven from the main thread.
  // -------------------------------------------------------------------------------------------------------------

  static void load(Vertx vertx, String url, int n) throws Exception {
    long t0 = System.nanoTime();
    Redis client = Redis.createClient(vertx, options(url));
    RedisConnection conn = get(client.connect(), 10);
    Semaphore window = new Semaphore(8);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int from = 0; from < n && failure.get() == null; from += 1000) {
      List<Request> batch = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 1000); i++) {
        batch.add(Request.cmd(Command.HSET).arg(key(i))
            .arg("first_name").arg(NAMES[i % NAMES.length])
            .arg("loyalty_tier").arg(TIERS[i % TIERS.length])
            .arg("last_purchase_at").arg("2025-12-" + String.format(Locale.ROOT, "%02d", 1 + i % 28) + "T10:15:00Z")
            .arg("orders_365d").arg(Integer.toString(1 + i % 12))
            .arg("spend_365d").arg((20 + i % 500) + "." + (i % 100))
            .arg("engagement_score").arg("0." + (i % 100))
            .arg("recent_categories").arg("cat" + (i % 10) + ",cat" + ((i + 3) % 10))
            .arg("purchased").arg("p" + (i % 10) + "-0"));
      }
      window.acquire();
      conn.batch(batch).onComplete(ar -> {
        if (ar.failed()) {
          failure.compareAndSet(null, ar.cause());
        }
        window.release();
      });
    }
    window.acquire(8);
    if (failure.get() != null) {
      throw new IllegalStateException("loading failed: " + failure.get(), failure.get());
    }
    Response size = get(conn.send(Request.cmd(Command.DBSIZE)), 10);
    System.out.printf(Locale.ROOT, "loaded %d profiles (8 fields each) in %d ms; DBSIZE %s%n", n,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), size);
    conn.close();
    client.close();
  }

  // -------------------------------------------------------------------------------------------------------------
  // The measured run
  // -------------------------------------------------------------------------------------------------------------

  record Phase(String name, String what, int readPercent) {}

  record Stats(long reads, long updates, long errors, String firstError, Histogram readLatency,
               Histogram updateLatency, Map<String, Long> outcomes) {}

  record Cpu(long redisTicks, long selfTicks, long machineBusy, long machineTotal, long nanos) {}

  record Result(Phase phase, double opsPerSec, double readsPerSec, double updatesPerSec, double p50, double p99,
                double redisCores, double clientCores, double othersCores, double commandUsec, double cpuUsecPerOp,
                String bound, long errors) {}

  static void run(Vertx vertx, String url, int redisPid) throws Exception {
    String script = readScript();
    String sha = sha1(script);
    Redis controlClient = Redis.createClient(vertx, options(url));
    RedisConnection control = get(controlClient.connect(), 10);
    String loaded = get(control.send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(script)), 10).toString();
    if (!loaded.equals(sha)) {
      throw new IllegalStateException("SCRIPT LOAD answered " + loaded + ", the script's SHA-1 is " + sha);
    }
    long profiles = get(control.send(Request.cmd(Command.DBSIZE)), 10).toLong();
    String version = infoField(get(control.send(Request.cmd(Command.INFO).arg("server")), 10).toString(),
        "redis_version");
    System.out.printf(Locale.ROOT, "redis:   %s, pid %d, %s, %d keys; profile:{u1} %s%n", version, redisPid, url,
        profiles, describeProfile(control, "u1"));
    System.out.printf(Locale.ROOT, "script:  events/apply.lua from the jar, sha1 %s (SCRIPT LOAD), EVENTS=%s%n",
        sha, EVENTS);
    System.out.printf(Locale.ROOT, "client:  %d connections (RESP2, one per event loop) x %d in flight; %d cores%n",
        CONNECTIONS, IN_FLIGHT, CORES);

    List<Driver> drivers = new CopyOnWriteArrayList<>();
    get(vertx.deployVerticle(() -> new Driver(url, sha, (int) Math.max(1, Math.min(PROFILES, profiles)), drivers),
        new DeploymentOptions().setInstances(CONNECTIONS)), 30);

    List<Phase> phases = List.of(
        new Phase("reads", "HMGET of 11 fields, reads only", 100),
        new Phase("updates", "EVALSHA apply.lua (" + EVENTS + "), updates only", 0),
        new Phase("mixed", READ_SHARE + "% reads / " + (100 - READ_SHARE) + "% updates", READ_SHARE));
    List<Result> results = new ArrayList<>();
    for (Phase phase : phases) {
      results.add(runPhase(phase, drivers, control, redisPid));
    }
    System.out.printf(Locale.ROOT, "%nafter the run: profile:{u1} %s%n", describeProfile(control, "u1"));
    printSummary(results, version);
    control.close();
    controlClient.close();
  }

  static Result runPhase(Phase phase, List<Driver> drivers, RedisConnection control, int redisPid) throws Exception {
    System.out.printf(Locale.ROOT, "%n== %s: %s; %d s warm-up, %d s measured%n", phase.name, phase.what, WARMUP,
        DURATION);
    long waited = waitForIdleMachine();
    // 1 s of the machine with the load stopped; while other processes keep it busy, wait (5 s steps, same limit)
    while (true) {
      Cpu a = cpu(redisPid);
      Thread.sleep(1000);
      Cpu b = cpu(redisPid);
      double busyBefore = 100.0 * (b.machineBusy - a.machineBusy) / Math.max(1, b.machineTotal - a.machineTotal);
      double ourBefore = 100.0 * (b.redisTicks - a.redisTicks + b.selfTicks - a.selfTicks) / CLK_TCK / CORES;
      double othersBefore = Math.max(0, busyBefore - ourBefore);
      if (othersBefore > 15 && waited < IDLE_WAIT) {
        System.out.printf(Locale.ROOT, "  waiting:  other processes keep the machine %.0f%% busy (load average %s); again in 5 s%n",
            othersBefore, loadAverage());
        Thread.sleep(5000);
        waited += 6;
        continue;
      }
      System.out.printf(Locale.ROOT, "  before:   machine %.0f%% busy over 1 s with the load stopped (others %.0f%%, Redis + this client %.0f%%), load average %s%s%n",
          busyBefore, othersBefore, ourBefore, loadAverage(), othersBefore > 15 ? "  WARNING: the machine is not idle" : "");
      break;
    }

    runAll(drivers, d -> d.go(phase.readPercent));
    Thread.sleep(WARMUP * 1000L);
    runAll(drivers, Driver::resetStats);
    get(control.send(Request.cmd(Command.CONFIG).arg("RESETSTAT")), 10);
    Cpu start = cpu(redisPid);
    Thread.sleep(DURATION * 1000L);
    List<Stats> parts = callAll(drivers, Driver::snapshot);
    Cpu end = cpu(redisPid);
    String commandstats = get(control.send(Request.cmd(Command.INFO).arg("commandstats")), 10).toString();
    boolean surefireDuring = !surefirePids().isEmpty();
    runAll(drivers, Driver::halt);
    for (int i = 0; i < 300 && callAll(drivers, Driver::inFlight).stream().mapToInt(x -> x).sum() > 0; i++) {
      Thread.sleep(100);
    }

    // client side
    long reads = 0, updates = 0, errors = 0;
    String firstError = null;
    Histogram readLat = new Histogram(60_000_000L, 3), updateLat = new Histogram(60_000_000L, 3);
    Map<String, Long> outcomes = new LinkedHashMap<>();
    for (Stats s : parts) {
      reads += s.reads;
      updates += s.updates;
      errors += s.errors;
      firstError = firstError != null ? firstError : s.firstError;
      readLat.add(s.readLatency);
      updateLat.add(s.updateLatency);
      s.outcomes.forEach((k, v) -> outcomes.merge(k, v, Long::sum));
    }
    Histogram all = readLat.copy();
    all.add(updateLat);
    double seconds = (end.nanos - start.nanos) / 1e9;
    double ops = (reads + updates) / seconds;
    System.out.printf(Locale.ROOT, "  client:   %,.0f ops/s (reads %,.0f/s, updates %,.0f/s) over %.2f s; errors %d%s%n",
        ops, reads / seconds, updates / seconds, seconds, errors, firstError == null ? "" : " (first: " + firstError + ")");
    System.out.printf(Locale.ROOT, "  latency:  all p50 %s p99 %s ms; reads p50 %s p99 %s; updates p50 %s p99 %s (%d pipelined)%n",
        ms(all, 50), ms(all, 99), ms(readLat, 50), ms(readLat, 99), ms(updateLat, 50), ms(updateLat, 99),
        CONNECTIONS * IN_FLIGHT);
    if (!outcomes.isEmpty()) {
      System.out.println("  script:   " + outcomes);
    }

    // Redis side
    Map<String, long[]> stats = commandStats(commandstats); // command -> {calls, usec}
    System.out.print("  redis:   ");
    stats.forEach((cmd, v) -> System.out.printf(Locale.ROOT, " %s calls=%d usec_per_call=%.2f;", cmd, v[0],
        (double) v[1] / Math.max(1, v[0])));
    System.out.println();
    double ticks = CLK_TCK * seconds;
    double redisCores = (end.redisTicks - start.redisTicks) / ticks;
    double selfCores = (end.selfTicks - start.selfTicks) / ticks;
    double machineCores = CORES * (double) (end.machineBusy - start.machineBusy)
        / Math.max(1, end.machineTotal - start.machineTotal);
    double others = Math.max(0, machineCores - redisCores - selfCores);
    System.out.printf(Locale.ROOT, "  cpu:      Redis %.0f%% of one core; machine %.0f%% of %d cores = Redis %.2f + this client %.2f + others %.2f cores%s%n",
        100 * redisCores, 100 * machineCores / CORES, CORES, redisCores, selfCores, others,
        others > 0.15 || surefireDuring ? "  WARNING: other processes ran during the phase" : "");

    // Bounds. Command time: the top-level command's usec_per_call (EVALSHA's includes the commands it calls; in the
    // mixed phase HMGET's counts and time include the script's own HMGETs, so the read share is taken from the
    // client's counts).
    long[] hmget = stats.getOrDefault("hmget", new long[2]);
    long[] evalsha = stats.getOrDefault("evalsha", new long[2]);
    double commandUsec;
    if (phase.readPercent == 100) {
      commandUsec = (double) hmget[1] / Math.max(1, hmget[0]);
    } else if (phase.readPercent == 0) {
      commandUsec = (double) evalsha[1] / Math.max(1, evalsha[0]);
    } else {
      // the phase's command time per op: EVALSHA (inclusive of the commands it calls) plus the top-level HMGETs
      // (as many as the client's reads), costed at this phase's HMGET average (which includes the script's own,
      // narrower HMGETs: an approximation)
      double perHmget = (double) hmget[1] / Math.max(1, hmget[0]);
      commandUsec = (evalsha[1] + reads * perHmget) / Math.max(1, evalsha[0] + reads);
    }
    double cpuUsecPerOp = (end.redisTicks - start.redisTicks) * 1e6 / CLK_TCK / Math.max(1, reads + updates);
    System.out.printf(Locale.ROOT, "  per core: command time %.2f us/op -> %,.0f ops/s; Redis CPU %.2f us/op -> %,.0f ops/s%n",
        commandUsec, 1e6 / commandUsec, cpuUsecPerOp, 1e6 / cpuUsecPerOp);
    String bound;
    if (redisCores >= 0.90) {
      bound = "Redis CPU";
      System.out.printf(Locale.ROOT, "  bound:    Redis CPU: its one core is saturated (%.0f%%); %,.0f ops/s is Redis's ceiling here%n",
          100 * redisCores, ops);
    } else if (redisCores >= 0.80) {
      bound = "Redis CPU, nearly";
      System.out.printf(Locale.ROOT, "  bound:    Redis CPU, nearly: Redis at %.0f%% of its core, the machine at %.0f%%; Redis's ceiling is somewhat above%n"
          + "            %,.0f ops/s: about %,.0f ops/s at 100%% of a core%n", 100 * redisCores, 100 * machineCores / CORES,
          ops, 1e6 / cpuUsecPerOp);
    } else if (machineCores >= 0.85 * CORES) {
      bound = "client (shared CPU)";
      System.out.printf(Locale.ROOT, "  bound:    client: the %d cores are busy (%.2f of them this client's) while Redis used %.0f%% of a core;%n"
          + "            Redis's own ceiling is above the rate measured: about %,.0f ops/s at 100%% of a core%n",
          CORES, selfCores, 100 * redisCores, 1e6 / cpuUsecPerOp);
    } else {
      bound = "client (window)";
      System.out.printf(Locale.ROOT, "  bound:    client window: neither Redis (%.0f%%) nor the machine (%.0f%%) saturated; raise IN_FLIGHT or CONNECTIONS%n",
          100 * redisCores, 100 * machineCores / CORES);
    }
    return new Result(phase, ops, reads / seconds, updates / seconds, millis(all, 50), millis(all, 99), redisCores,
        selfCores, others, commandUsec, cpuUsecPerOp, bound, errors);
  }

  static void printSummary(List<Result> results, String version) {
    System.out.printf(Locale.ROOT, "%n== results: Redis %s, one server; %d profiles; %d connections x %d in flight; EVENTS=%s; %d s per phase%n",
        version, PROFILES, CONNECTIONS, IN_FLIGHT, EVENTS, DURATION);
    System.out.printf(Locale.ROOT, "  %-8s %10s %8s %8s %10s %7s %7s %9s %12s %10s %12s  %s%n", "phase", "ops/s",
        "p50 ms", "p99 ms", "Redis CPU", "client", "others", "us/call", "1e6/us_call", "CPU us/op", "ops/s/core",
        "bound hit");
    for (Result r : results) {
      System.out.printf(Locale.ROOT, "  %-8s %,10.0f %8.3f %8.3f %9.0f%% %7.2f %7.2f %9.2f %,12.0f %10.2f %,12.0f  %s%s%n",
          r.phase.name, r.opsPerSec, r.p50, r.p99, 100 * r.redisCores, r.clientCores, r.othersCores, r.commandUsec,
          1e6 / r.commandUsec, r.cpuUsecPerOp, 1e6 / r.cpuUsecPerOp, r.bound, r.errors > 0 ? "  ERRORS " + r.errors : "");
    }
    Result reads = results.get(0), updates = results.get(1);
    double share = READ_SHARE / 100.0;
    double predicted = 1e6 / (share * reads.cpuUsecPerOp + (1 - share) * updates.cpuUsecPerOp);
    System.out.printf(Locale.ROOT, "  mixed %d/%d predicted from the reads and updates CPU us/op: %,.0f ops/s per Redis core%n",
        READ_SHARE, 100 - READ_SHARE, predicted);
    System.out.println("  client, others: cores used by this client and by other processes during the phase");
    System.out.println("  us/call: INFO commandstats usec_per_call, wall time inside the command (inflated when Redis is"
        + " preempted; mixed: EVALSHA + top-level HMGETs, estimated)");
    System.out.println("  CPU us/op: Redis process CPU (utime+stime) / ops, protocol and syscalls included;"
        + " ops/s/core = 1e6 / CPU us/op (it varies with the commands Redis finds per wake-up)");
  }

  // -------------------------------------------------------------------------------------------------------------
  // One connection, on its own event loop, keeping IN_FLIGHT commands outstanding
  // -------------------------------------------------------------------------------------------------------------

  static final class Driver extends VerticleBase {
    private final String url;
    private final String sha;
    private final int profiles;
    private final List<Driver> registry;
    private final SplittableRandom random = new SplittableRandom();
    private RedisConnection conn;
    private boolean running;
    private boolean pumping;
    private int readPercent;
    private int inFlight;
    private long generation; // replies to commands sent before the last reset are not counted
    private long reads, updates, errors;
    private String firstError;
    private Histogram readLatency = new Histogram(60_000_000L, 3);
    private Histogram updateLatency = new Histogram(60_000_000L, 3);
    private Map<String, Long> outcomes = new LinkedHashMap<>();

    Driver(String url, String sha, int profiles, List<Driver> registry) {
      this.url = url;
      this.sha = sha;
      this.profiles = profiles;
      this.registry = registry;
    }

    @Override
    public Future<?> start() {
      return Redis.createClient(vertx, options(url)).connect().onSuccess(c -> {
        conn = c;
        c.exceptionHandler(err -> noteError("connection: " + err));
        registry.add(this);
      });
    }

    io.vertx.core.Context eventLoop() {
      return context;
    }

    void go(int readPercent) {
      this.readPercent = readPercent;
      running = true;
      pump();
    }

    void halt() {
      running = false;
    }

    int inFlight() {
      return inFlight;
    }

    void resetStats() {
      generation++;
      reads = updates = errors = 0;
      firstError = null;
      readLatency = new Histogram(60_000_000L, 3);
      updateLatency = new Histogram(60_000_000L, 3);
      outcomes = new LinkedHashMap<>();
    }

    Stats snapshot() {
      return new Stats(reads, updates, errors, firstError, readLatency.copy(), updateLatency.copy(),
          new LinkedHashMap<>(outcomes));
    }

    private void pump() {
      if (pumping) {
        return;
      }
      pumping = true;
      while (running && inFlight < IN_FLIGHT) {
        sendOne();
      }
      pumping = false;
    }

    private void sendOne() {
      boolean read = readPercent == 100 || (readPercent > 0 && random.nextInt(100) < readPercent);
      int reader = random.nextInt(profiles);
      Request request = read ? read(reader) : update(reader);
      long gen = generation;
      long t0 = System.nanoTime();
      inFlight++;
      conn.send(request).onComplete(ar -> {
        inFlight--;
        if (gen == generation) {
          long micros = Math.min((System.nanoTime() - t0) / 1000, 60_000_000L);
          if (ar.failed()) {
            noteError(String.valueOf(ar.cause().getMessage()));
          } else if (read) {
            reads++;
            readLatency.recordValue(micros);
          } else {
            updates++;
            updateLatency.recordValue(micros);
            outcomes.merge(ar.result().toString(), 1L, Long::sum);
          }
        }
        pump();
      });
    }

    private void noteError(String message) {
      errors++;
      if (firstError == null) {
        firstError = message;
      }
    }

    /** ProfileStore#hmget. */
    private static Request read(int reader) {
      Request r = Request.cmd(Command.HMGET).arg(key(reader));
      for (String f : READ_FIELDS) {
        r.arg(f);
      }
      return r;
    }

    /** ProfileWriter#apply: EVALSHA sha 1 key, then ARGV channel, uid, type, version, time, millis, data. */
    private Request update(int reader) {
      long millis = EVENT_CLOCK.incrementAndGet();
      String uid = "u" + reader;
      String version = String.format(Locale.ROOT, "%016d|%s", millis, "bench-" + millis);
      Request r = Request.cmd(Command.EVALSHA).arg(sha).arg(1).arg(key(reader))
          .arg(CHANNEL).arg(uid);
      int kind = EVENTS.equals("mix") ? random.nextInt(100) : 99;
      if (kind < 60) {
        r.arg("page_view");
      } else if (kind < 85) {
        r.arg("cart_add");
      } else {
        r.arg("attribute");
      }
      r.arg(version).arg(Instant.ofEpochMilli(millis).toString()).arg(Long.toString(millis));
      if (kind < 60) {
        r.arg("cat" + random.nextInt(20));
      } else if (kind < 85) {
        r.arg("p" + random.nextInt(10) + "-" + random.nextInt(20));
      } else {
        r.arg("1").arg("first_name").arg(NAMES[(int) (millis % NAMES.length)]);
      }
      return r;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------------------------------------------

  static String key(int reader) {
    return "profile:{u" + reader + "}"; // RedisConfig.profileKey("profile:", uid)
  }

  static RedisOptions options(String url) {
    RedisOptions o = new RedisOptions()
        .setConnectionString(url)
        .setPreferredProtocolVersion(ProtocolVersion.RESP2)
        .setMaxWaitingHandlers(Math.max(2048, 2 * IN_FLIGHT) + 8 * 1000);
    o.getNetClientOptions().setTcpNoDelay(true);
    return o;
  }

  /** Runs an action on every driver's event loop and waits for all the answers (from the main thread). */
  static <T> List<T> callAll(List<Driver> drivers, java.util.function.Function<Driver, T> action) throws Exception {
    List<CompletableFuture<T>> answers = new ArrayList<>();
    for (Driver d : drivers) {
      CompletableFuture<T> answer = new CompletableFuture<>();
      d.eventLoop().runOnContext(v -> {
        try {
          answer.complete(action.apply(d));
        } catch (Throwable t) {
          answer.completeExceptionally(t);
        }
      });
      answers.add(answer);
    }
    List<T> out = new ArrayList<>();
    for (CompletableFuture<T> a : answers) {
      out.add(a.get(10, TimeUnit.SECONDS));
    }
    return out;
  }

  static void runAll(List<Driver> drivers, java.util.function.Consumer<Driver> action) throws Exception {
    callAll(drivers, d -> {
      action.accept(d);
      return Boolean.TRUE;
    });
  }

  static <T> T get(Future<T> future, int seconds) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
  }

  static String readScript() throws IOException {
    try (InputStream in = ClassLoader.getSystemResourceAsStream("events/apply.lua")) {
      if (in == null) {
        throw new IOException("events/apply.lua is not on the classpath (run with -cp opentime-gateway.jar)");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static String sha1(String text) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  static String describeProfile(RedisConnection c, String uid) throws Exception {
    String k = "profile:{" + uid + "}";
    Response len = get(c.send(Request.cmd(Command.HLEN).arg(k)), 10);
    Response enc = get(c.send(Request.cmd(Command.OBJECT).arg("ENCODING").arg(k)), 10);
    return len + " fields, encoding " + enc;
  }

  static String infoField(String info, String name) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith(name + ":")) {
        return line.substring(name.length() + 1).trim();
      }
    }
    return "?";
  }

  /** cmdstat_hmget:calls=10,usec=20,usec_per_call=2.00,... -> hmget -> {calls, usec}. */
  static Map<String, long[]> commandStats(String info) {
    Map<String, long[]> out = new LinkedHashMap<>();
    for (String line : info.split("\r?\n")) {
      if (!line.startsWith("cmdstat_")) {
        continue;
      }
      String cmd = line.substring(8, line.indexOf(':'));
      if (cmd.equals("config") || cmd.equals("info")) {
        continue; // the control connection's own
      }
      long calls = 0, usec = 0;
      for (String kv : line.substring(line.indexOf(':') + 1).split(",")) {
        String[] p = kv.split("=");
        if (p[0].equals("calls")) {
          calls = Long.parseLong(p[1]);
        } else if (p[0].equals("usec")) {
          usec = Long.parseLong(p[1]);
        }
      }
      out.put(cmd, new long[] {calls, usec});
    }
    return out;
  }

  static Cpu cpu(int redisPid) throws IOException {
    long nanos = System.nanoTime();
    String[] m = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
    long user = Long.parseLong(m[1]), nice = Long.parseLong(m[2]), system = Long.parseLong(m[3]);
    long idle = Long.parseLong(m[4]), iowait = Long.parseLong(m[5]), irq = Long.parseLong(m[6]);
    long softirq = Long.parseLong(m[7]), steal = Long.parseLong(m[8]);
    long busy = user + nice + system + irq + softirq + steal;
    return new Cpu(processTicks("/proc/" + redisPid + "/stat"), processTicks("/proc/self/stat"), busy,
        busy + idle + iowait, nanos);
  }

  /** utime + stime of a process (all its threads), in clock ticks. */
  static long processTicks(String statFile) throws IOException {
    String stat = Files.readString(Path.of(statFile));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  /** Pids of running Maven surefire test JVMs (what `pgrep -f surefirebooter` finds). */
  static List<Long> surefirePids() {
    List<Long> pids = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          byte[] cmdline = Files.readAllBytes(p.resolve("cmdline"));
          if (new String(cmdline, StandardCharsets.UTF_8).contains("surefirebooter")) {
            pids.add(Long.parseLong(name));
          }
        } catch (IOException | SecurityException e) {
          // gone, or not ours to read
        }
      }
    } catch (IOException e) {
      // no /proc: nothing to wait for
    }
    return pids;
  }

  /** Waits (polling every 5 s, IDLE_WAIT s at most) until no surefire test JVM runs; answers the seconds waited. */
  static long waitForIdleMachine() throws InterruptedException {
    long waited = 0;
    List<Long> pids = surefirePids();
    while (!pids.isEmpty() && waited < IDLE_WAIT) {
      if (waited % 60 == 0) {
        System.out.printf(Locale.ROOT, "  waiting:  surefire test JVM(s) %s running (load average %s)...%n", pids,
            loadAverage());
      }
      Thread.sleep(5000);
      waited += 5;
      pids = surefirePids();
    }
    if (!pids.isEmpty()) {
      System.out.printf(Locale.ROOT, "  WARNING: surefire JVM(s) %s still running after %d s; measuring anyway%n",
          pids, waited);
    } else {
      System.out.printf(Locale.ROOT, "  idle:     no surefire test JVM running%s%n",
          waited > 0 ? " (waited " + waited + " s for one to end)" : "");
    }
    return waited;
  }

  static double millis(Histogram h, double percentile) {
    return h.getValueAtPercentile(percentile) / 1000.0;
  }

  static String ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? "-" : String.format(Locale.ROOT, "%.3f", h.getValueAtPercentile(percentile) / 1000.0);
  }

  static int intEnv(String name, int def) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? def : Integer.parseInt(v.trim());
  }
}
