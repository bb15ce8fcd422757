package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.Main;
import io.opentime.config.GatewayConfig;
import io.opentime.config.RedisConfig;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.ops.GatewayMetrics;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.junit5.VertxExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Redis misbehaving under a running gateway: paused (SIGSTOP), killed and restarted, absent at start. Each test owns
 * its Redis process. Latency bounds here only prove nothing hangs; the figures come from bench/.
 */
@ExtendWith(VertxExtension.class)
class RedisFailureTest {

  static final String DEFAULTS = "{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}";
  /** Far above the 25 ms deadline, far below any hang: an answer slower than this waited on Redis. */
  static final long NO_WAIT_BOUND_MS = 500;

  Vertx vertx;
  EmbeddedRedis redis;
  RunningGateway gw;

  @BeforeEach
  void setUp(Vertx v) {
    vertx = v;
  }

  @AfterEach
  void tearDown() {
    if (redis != null && redis.alive()) {
      redis.resume();
    }
    if (gw != null) {
      gw.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  void startAll(Map<String, String> env) throws Exception {
    redis = EmbeddedRedis.start(0);
    gw = new RunningGateway(vertx, TestConfig.forRedis(redis.url(), env));
  }

  static String source(HttpResponse<String> r) {
    return r.headers().firstValue("X-Opentime-Source").orElse("?");
  }

  static HttpResponse<String> timed(Supplier<HttpResponse<String>> call) {
    long t0 = System.nanoTime();
    HttpResponse<String> r = call.get();
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(ms).as("answer time (ms)").isLessThan(NO_WAIT_BOUND_MS);
    assertThat(r.statusCode()).isEqualTo(200);
    return r;
  }

  @Test
  @DisplayName("Redis paused: cached readers get their data (stale once past the refresh age), others get defaults, fast")
  void paused() throws Exception {
    startAll(Map.of());
    gw.putProfile("p-ada", Map.of("first_name", "Ada", "loyalty_tier", "gold"));
    assertThat(source(gw.greeting("p-ada"))).isEqualTo("redis");
    assertThat(source(gw.greeting("p-ada"))).isEqualTo("cache");

    redis.pause();
    HttpResponse<String> cached = timed(() -> gw.greeting("p-ada"));
    assertThat(cached.body()).contains("Ada");
    assertThat(source(cached)).isEqualTo("cache");

    for (int i = 0; i < gw.config.redis().breakerFailures() + 10; i++) {
      String uid = "p-new-" + i;
      HttpResponse<String> r = timed(() -> gw.greeting(uid));
      assertThat(r.body()).isEqualTo(DEFAULTS);
      assertThat(source(r)).isEqualTo("default");
    }
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "timeout")).isGreaterThanOrEqualTo(1);
    assertThat(gw.counter(GatewayMetrics.FALLBACKS, "reason", "breaker_open")).isGreaterThanOrEqualTo(1);
    assertThat(gw.gateway.services().store().breakerState()).isNotEqualTo(CircuitBreakerState.CLOSED);

    gw.ticker.advance(gw.config.cache().refreshAfter().plusSeconds(1));
    HttpResponse<String> stale = timed(() -> gw.greeting("p-ada"));
    assertThat(source(stale)).isEqualTo("stale");
    assertThat(stale.body()).contains("Ada").contains("gold");

    redis.resume();
    gw.putProfile("p-after", Map.of("first_name", "Grace"));
    assertThat(awaitSource("p-after", "redis", Duration.ofSeconds(10)).body()).contains("Grace");
    assertThat(gw.gateway.services().store().breakerState()).isEqualTo(CircuitBreakerState.CLOSED);
  }

  @Test
  @DisplayName("reads that miss their deadline because their own event loop stalled (a GC pause) do not open the breaker")
  void stalledLoopDoesNotOpenTheBreaker() throws Exception {
    startAll(Map.of());
    ProfileStore store = gw.gateway.services().store();
    int reads = 2 * gw.config.redis().breakerFailures();
    long stallMs = 6 * gw.config.redis().deadline().toMillis();
    redis.pause(); // no read can be answered: each must end at its deadline
    List<Future<Profile>> pending = fetchAll(store, "stall-", reads);
    stallEveryLoop(store, stallMs);
    assertEveryReadTimedOut(pending);
    assertThat(store.breakerState()).as("breaker after %d late deadlines", reads).isEqualTo(CircuitBreakerState.CLOSED);
    assertThat(gw.counter(GatewayMetrics.LOOP_STALLS)).as("reads counted as loop stalls").isEqualTo(reads);

    // The same reads with the loops running: they miss their deadlines on time, which does open the breaker. On a
    // CPU-starved machine a loop's timer can itself fire late enough to count as a stall, and the reads of that batch
    // then rightly do not count against Redis: only then is another batch sent (a few at most). A batch with no
    // stall counted must open the breaker.
    for (int batch = 0; store.breakerState() == CircuitBreakerState.CLOSED; batch++) {
      double stallsBefore = gw.counter(GatewayMetrics.LOOP_STALLS);
      List<Future<Profile>> onTime = new ArrayList<>();
      for (int i = 0; i < reads; i++) {
        onTime.add(store.fetch("slow-" + batch + "-" + i));
      }
      Main.block(Future.join(onTime).otherwiseEmpty());
      if (store.breakerState() == CircuitBreakerState.CLOSED) {
        assertThat(gw.counter(GatewayMetrics.LOOP_STALLS) - stallsBefore)
            .as("batch %d missed its deadlines on time (no loop stall) yet left the breaker closed", batch)
            .isPositive();
        assertThat(batch).as("batches whose loops stalled, in a row").isLessThan(5);
      }
    }
    assertThat(store.breakerState()).isNotEqualTo(CircuitBreakerState.CLOSED);
  }

  /** Starts {@code n} reads of readers {@code prefix0 ..}: each is handed to its link's event loop as a task. */
  private static List<Future<Profile>> fetchAll(ProfileStore store, String prefix, int n) {
    List<Future<Profile>> pending = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      pending.add(store.fetch(prefix + i));
    }
    return pending;
  }

  /** Waits for each read and checks it failed at its deadline (reason TIMEOUT): Redis never answered it. */
  private static void assertEveryReadTimedOut(List<Future<Profile>> pending) {
    for (Future<Profile> read : pending) {
      AsyncResult<Profile> ar = Main.block(read.transform(Future::succeededFuture));
      assertThat(ar.failed()).as("a read Redis never answered").isTrue();
      assertThat(ar.cause()).isInstanceOfSatisfying(RedisUnavailableException.class,
          e -> assertThat(e.reason()).isEqualTo(FallbackReason.TIMEOUT));
    }
  }

  /**
   * Stalls every link's event loop for {@code ms}, as a long garbage-collection pause would, and waits for it. Queued
   * after reads started just before, so those start (and their deadlines run) before the loop stalls.
   */
  private static void stallEveryLoop(ProfileStore store, long ms) {
    List<Future<?>> stalls = new ArrayList<>();
    for (RedisLink link : store.links()) {
      Promise<Void> stalled = Promise.promise();
      link.context().runOnContext(v -> {
        LockSupport.parkNanos(ms * 1_000_000L);
        stalled.complete();
      });
      stalls.add(stalled.future());
    }
    Main.block(Future.all(stalls));
  }

  @Test
  @DisplayName("reads that come due shortly before a loop stall ends, barely late, still count as stalled, not against Redis")
  void readsDueJustBeforeAStallEndsDoNotOpenTheBreaker() throws Exception {
    startAll(Map.of());
    ProfileStore store = gw.gateway.services().store();
    int reads = 2 * gw.config.redis().breakerFailures();
    // Longer than the deadline by less than the stall slack (half the deadline): judged by its own lateness alone,
    // each read would look like a slow Redis. This is a garbage-collection pause that begins just after the reads
    // were sent, as under load, where it opened the breaker on a healthy Redis.
    long stallMs = gw.config.redis().deadline().toMillis() + 5;
    redis.pause();
    List<Future<Profile>> pending = fetchAll(store, "due-in-stall-", reads);
    stallEveryLoop(store, stallMs);
    assertEveryReadTimedOut(pending);
    assertThat(store.breakerState()).as("breaker after %d reads that came due in a stall", reads)
        .isEqualTo(CircuitBreakerState.CLOSED);
    assertThat(gw.counter(GatewayMetrics.LOOP_STALLS)).as("reads counted as loop stalls").isEqualTo(reads);
  }

  @Test
  @DisplayName("reads in flight through a loop stall are still answered by a healthy Redis, not with defaults")
  void readsInFlightThroughAStallAreAnsweredByAHealthyRedis() throws Exception {
    startAll(Map.of());
    ProfileStore store = gw.gateway.services().store();
    int reads = 20;
    for (int i = 0; i < reads; i++) {
      gw.putProfile("through-stall-" + i, Map.of("first_name", "Ada"));
    }
    // Each loop stalls right after starting its reads, before it has written them to Redis, for three deadlines (a
    // long garbage-collection pause): when it resumes, every read is past its deadline, and Redis has not yet seen it.
    List<Future<Profile>> pending = fetchAll(store, "through-stall-", reads);
    stallEveryLoop(store, 3 * gw.config.redis().deadline().toMillis());
    for (Future<Profile> read : pending) {
      AsyncResult<Profile> ar = Main.block(read.transform(Future::succeededFuture));
      assertThat(ar.succeeded()).as("read after the stall (%s)", ar.cause()).isTrue();
      assertThat(ar.result().isEmpty()).as("profile read after the stall").isFalse();
    }
    assertThat(gw.counter(GatewayMetrics.LOOP_STALLS)).as("reads given up as stalled").isZero();
  }

  @Test
  @DisplayName("past the refresh age the old profile is answered at once as stale while it is re-read, then the new one")
  void staleWhileRevalidate() throws Exception {
    startAll(Map.of());
    gw.putProfile("s-ada", Map.of("first_name", "Ada", "loyalty_tier", "gold"));
    assertThat(source(gw.greeting("s-ada"))).isEqualTo("redis");
    assertThat(source(gw.greeting("s-ada"))).isEqualTo("cache");
    gw.putProfile("s-ada", Map.of("loyalty_tier", "platinum"));
    assertThat(gw.greeting("s-ada").body()).contains("gold"); // younger than the refresh age: not re-read

    redis.pause(); // the background re-read cannot land before the stale answer is checked
    gw.ticker.advance(gw.config.cache().refreshAfter().plusMillis(1));
    HttpResponse<String> stale = timed(() -> gw.greeting("s-ada"));
    assertThat(source(stale)).isEqualTo("stale");
    assertThat(stale.body()).contains("gold");
    assertThat(stale.headers().firstValue("X-Opentime-Data-Age")).hasValue("5");
    redis.resume();

    HttpResponse<String> refreshed = awaitSource("s-ada", "cache", Duration.ofSeconds(10));
    assertThat(refreshed.body()).contains("platinum");
  }

  @Test
  @DisplayName("Redis killed and restarted on its port: defaults meanwhile, personalized again with no gateway restart")
  void killedAndRestarted() throws Exception {
    startAll(Map.of());
    gw.putProfile("k-ada", Map.of("first_name", "Ada"));
    assertThat(gw.greeting("k-ada").body()).contains("Ada");

    redis.kill();
    for (int i = 0; i < 10; i++) {
      String uid = "k-new-" + i;
      HttpResponse<String> r = timed(() -> gw.greeting(uid));
      assertThat(r.body()).isEqualTo(DEFAULTS);
    }
    assertThat(timed(() -> gw.greeting("k-ada")).body()).contains("Ada"); // still cached

    redis.restart(); // an empty Redis: no persistence in tests
    gw.putProfile("k-back", Map.of("first_name", "Katherine"));
    assertThat(awaitSource("k-back", "redis", Duration.ofSeconds(15)).body()).contains("Katherine");
  }

  @Test
  @DisplayName("Redis down at start: the gateway starts, answers defaults, and personalizes once Redis appears")
  void downAtStart() throws Exception {
    int port = EmbeddedRedis.freePort();
    gw = new RunningGateway(vertx, TestConfig.forRedis("redis://127.0.0.1:" + port, Map.of()));
    HttpResponse<String> r = timed(() -> gw.greeting("d-ada"));
    assertThat(r.body()).isEqualTo(DEFAULTS);
    assertThat(source(r)).isEqualTo("default");

    redis = EmbeddedRedis.start(port);
    gw.putProfile("d-ada2", Map.of("first_name", "Ada"));
    assertThat(awaitSource("d-ada2", "redis", Duration.ofSeconds(15)).body()).contains("Ada");
  }

  @Test
  @DisplayName("opens of one reader on two event loops share one read, and each answer comes back on its own loop")
  void coalescingAcrossEventLoops() throws Exception {
    startAll(Map.of("OPENTIME_REDIS_DEADLINE", "5s"));
    gw.putProfile("x-ada", Map.of("first_name", "Ada"));
    long before = gw.hmgetCalls();
    ProfileCache cache = gw.gateway.services().cache();
    redis.pause(); // no reply can arrive while both lookups are made
    Context a = vertx.getOrCreateContext();
    Context b = ((VertxInternal) vertx).createEventLoopContext();
    Future<Boolean> fa = lookupOn(a, cache, "x-ada");
    Future<Boolean> fb = lookupOn(b, cache, "x-ada");
    Main.block(Future.all(issued(a), issued(b)));
    redis.resume();
    assertThat(Main.block(fa)).as("answer on its own context").isTrue();
    assertThat(Main.block(fb)).as("answer on its own context").isTrue();
    assertThat(gw.hmgetCalls() - before).isEqualTo(1);
  }

  @Test
  @DisplayName("a read overtaken by an invalidation answers the opens that waited for it but is never cached, and "
      + "no open after the invalidation joins it")
  void invalidationOvertakesARead() throws Exception {
    startAll(Map.of("OPENTIME_REDIS_DEADLINE", "5s"));
    gw.putProfile("i-ada", Map.of("first_name", "Ada"));
    ProfileCache cache = gw.gateway.services().cache();
    int name = gw.gateway.services().blocks().schema().indexOf("first_name");
    Context ctx = vertx.getOrCreateContext();

    // The updater changed the hash and invalidated the reader while a read of it was in flight (held by the pause):
    // that read may have seen the hash before the change, so it answers its open but must not be stored.
    redis.pause();
    Future<ProfileLookup> overtaken = lookupOnContext(ctx, cache, "i-ada");
    cache.invalidate("i-ada");
    redis.resume();
    ProfileLookup first = Main.block(overtaken);
    assertThat(first.source()).isEqualTo(Source.REDIS);
    assertThat(first.profile().value(name)).isEqualTo("Ada");
    long before = gw.hmgetCalls();
    assertThat(source(gw.greeting("i-ada"))).as("the open after the overtaken read").isEqualTo("redis");
    assertThat(gw.hmgetCalls() - before).isEqualTo(1);

    // An open after the invalidation starts its own read instead of joining the overtaken one, and that read is
    // stored.
    cache.invalidate("i-ada");
    before = gw.hmgetCalls();
    redis.pause();
    Future<ProfileLookup> older = lookupOnContext(ctx, cache, "i-ada");
    cache.invalidate("i-ada");
    Future<ProfileLookup> newer = lookupOnContext(ctx, cache, "i-ada");
    redis.resume();
    assertThat(Main.block(older).profile().value(name)).isEqualTo("Ada");
    assertThat(Main.block(newer).profile().value(name)).isEqualTo("Ada");
    assertThat(gw.hmgetCalls() - before).as("reads: the overtaken one and the newer open's own").isEqualTo(2);
    assertThat(source(gw.greeting("i-ada"))).as("the open after the newer read").isEqualTo("cache");
  }

  /** Issues a lookup on a context and waits until it is issued (not answered). */
  private static Future<ProfileLookup> lookupOnContext(Context ctx, ProfileCache cache, String uid) {
    Promise<Future<ProfileLookup>> issued = Promise.promise();
    ctx.runOnContext(v -> issued.complete(cache.lookup(uid)));
    return Main.block(issued.future());
  }

  @Test
  @DisplayName("replies never cross readers, even when reads time out and their replies arrive late")
  void repliesNeverCross() throws Exception {
    redis = EmbeddedRedis.start(0);
    GatewayConfig base = TestConfig.forRedis(redis.url(), Map.of());
    RedisConfig r = base.redis();
    // A breaker that never opens, so that every read goes to Redis, before, during and after the stall.
    gw = new RunningGateway(vertx, base.withRedis(new RedisConfig(r.mode(), r.urls(), r.masterName(), r.readFrom(),
        r.keyPrefix(), r.deadline(), r.connectTimeout(), 10_000, r.breakerResetAfter(), r.reconnectMaxDelay(),
        r.batchWindow())));
    int readers = 300;
    for (int i = 0; i < readers; i++) {
      gw.putProfile("c-" + i, Map.of("first_name", "c-" + i));
    }
    ProfileCache cache = gw.gateway.services().cache();
    int nameIndex = gw.gateway.services().blocks().schema().indexOf("first_name");
    List<Context> contexts = List.of(vertx.getOrCreateContext(),
        ((VertxInternal) vertx).createEventLoopContext());
    AtomicInteger answered = new AtomicInteger();
    AtomicInteger defaults = new AtomicInteger();
    Queue<String> crossed = new ConcurrentLinkedQueue<>();

    Supplier<Future<Void>> burst = () -> {
      List<Future<?>> all = new ArrayList<>();
      for (Context ctx : contexts) {
        Promise<Void> done = Promise.promise();
        ctx.runOnContext(v -> {
          List<Future<ProfileLookup>> lookups = new ArrayList<>();
          for (int i = 0; i < readers; i++) {
            String uid = "c-" + i;
            cache.invalidate(uid);
            lookups.add(cache.lookup(uid).onSuccess(l -> {
              if (l.profile() == null) {
                defaults.incrementAndGet();
              } else if (!uid.equals(l.profile().value(nameIndex))) {
                crossed.add(uid + " got " + l.profile().value(nameIndex));
              } else {
                answered.incrementAndGet();
              }
            }));
          }
          Future.all(lookups).<Void>mapEmpty().onComplete(done);
        });
        all.add(done.future());
      }
      return Future.all(all).mapEmpty();
    };

    Main.block(burst.get());
    redis.pause();
    Future<Void> stalled = burst.get(); // these time out; their replies come after the resume
    Main.block(stalled);
    redis.resume();
    for (int round = 0; round < 5; round++) {
      Main.block(burst.get()); // sent while the late replies are still being read
    }
    assertThat(crossed).as("answers carrying another reader's profile").isEmpty();
    assertThat(defaults.get()).as("answers that timed out during the stall").isGreaterThanOrEqualTo(2 * readers / 2);
    assertThat(answered.get()).as("personalized answers").isGreaterThan(5 * readers);
  }

  private static Future<Void> issued(Context c) {
    Promise<Void> p = Promise.promise();
    c.runOnContext(v -> p.complete());
    return p.future();
  }

  private static Future<Boolean> lookupOn(Context ctx, ProfileCache cache, String uid) {
    Promise<Boolean> p = Promise.promise();
    ctx.runOnContext(v -> cache.lookup(uid).onComplete(ar -> p.complete(
        ar.succeeded() && ar.result().source() == Source.REDIS && Vertx.currentContext() == ctx)));
    return p.future();
  }

  /** Polls the greeting until it reports the source (recovery is asynchronous: reconnect and breaker probe). */
  HttpResponse<String> awaitSource(String uid, String source, Duration max) {
    long deadline = System.nanoTime() + max.toNanos();
    HttpResponse<String> r;
    do {
      r = gw.greeting(uid);
      if (source(r).equals(source)) {
        return r;
      }
      Main.block(Future.<Void>future(p -> vertx.setTimer(50, id -> p.complete())));
    } while (System.nanoTime() < deadline);
    throw new AssertionError("no '" + source + "' answer within " + max + "; last: " + source(r) + " " + r.body());
  }
}
