package io.opentime.profile;

import com.github.benmanes.caffeine.cache.Ticker;
import io.opentime.config.RedisConfig;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.ZModem;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads profiles from Redis: one {@code HMGET profile:{<uid>} <schema fields>} per read, on one of the per-event-loop
 * {@link RedisLink}s (chosen by uid), bounded by the configured deadline and guarded by a circuit breaker: one per
 * process, or in Cluster mode one per group of hash slots, so a sick master does not stop reads from the others.
 *
 * <p>Failure semantics: the returned future fails with a {@link RedisUnavailableException} whose reason says why
 * (timeout, error, breaker open, not connected). While the breaker is open nothing is sent to Redis, so a hung Redis
 * does not accumulate commands; after {@code breaker.reset-after} one probe read is let through.
 *
 * <p>Deadlines and stalls: a read's deadline timer runs on its link's event loop. When that loop itself was stalled
 * (a long garbage-collection pause, CPU starvation), every read in flight misses its deadline at once, late, through
 * no fault of Redis: such a miss still answers defaults, but is not counted towards opening the breaker (nor towards
 * rebuilding a cluster client). Without this, one 100 ms pause under load opened the breaker and turned a second of
 * answers into defaults while Redis was healthy.
 */
public final class ProfileStore {

  private static final Logger LOG = LoggerFactory.getLogger(ProfileStore.class);

  private final RedisConfig config;
  private final ProfileSchema schema;
  private final Ticker ticker;
  /** One breaker per group of hash slots in Cluster mode (a sick master trips only its own); else one. */
  private final CircuitBreaker[] breakers;
  private final List<RedisLink> links = new CopyOnWriteArrayList<>();
  private final AtomicIntegerArray breakerOpen;
  private final AtomicInteger breakersOpen = new AtomicInteger();
  private final ProfileMeters meters;
  private final RedisEndpoints endpoints;
  private final Vertx vertx;
  private final long deadlineMs;
  /** A deadline timer that fires this much later than due means the loop was stalled, not that Redis was slow. */
  private final long stallNanos;

  /**
   * Breakers in Cluster mode: the 16384 slots in groups of 256. A master owns whole ranges of slots, so a master that
   * hangs or dies opens the breakers of its groups (plus at most one shared group at each end of its ranges) and
   * readers whose slots live on healthy masters keep being read.
   */
  static final int CLUSTER_BREAKERS = 64;
  private static final int CLUSTER_SLOTS = 16384;
  private static final long STALL_SLACK_MIN_NANOS = 10_000_000L;

  /** A read that missed its deadline because its own event loop was stalled. Not counted against Redis. */
  static final class LoopStalledException extends RuntimeException {
    LoopStalledException(long lateMs) {
      super("the event loop was stalled: the read's deadline was handled " + lateMs + " ms late", null, false, false);
    }
  }

  public ProfileStore(Vertx vertx, RedisConfig config, ProfileSchema schema, Ticker ticker, ProfileMeters meters) {
    this.meters = meters;
    this.config = config;
    this.vertx = vertx;
    this.deadlineMs = config.deadline().toMillis();
    this.stallNanos = Math.max(STALL_SLACK_MIN_NANOS, config.deadline().toNanos() / 2);
    this.endpoints = new RedisEndpoints(config);
    this.schema = schema;
    this.ticker = ticker;
    int n = config.mode() == RedisConfig.Mode.CLUSTER ? CLUSTER_BREAKERS : 1;
    this.breakers = new CircuitBreaker[n];
    this.breakerOpen = new AtomicIntegerArray(n);
    for (int i = 0; i < n; i++) {
      breakers[i] = breaker(vertx, i);
    }
  }

  private CircuitBreaker breaker(Vertx vertx, int index) {
    CircuitBreaker b = CircuitBreaker.create("redis-profiles-" + index, vertx, new CircuitBreakerOptions()
        .setMaxFailures(config.breakerFailures())
        .setTimeout(-1) // the deadline is withDeadline's, which tells a stalled loop from a slow Redis
        .setResetTimeout(config.breakerResetAfter().toMillis())
        .setFallbackOnFailure(false)
        .setNotificationAddress(null));
    b.failurePolicy(outcome -> outcome.failed() && !(outcome.cause() instanceof LoopStalledException));
    // Logged once per outage, not on every failed probe nor for every slot group.
    b.openHandler(v -> {
      if (breakerOpen.compareAndSet(index, 0, 1) && breakersOpen.getAndIncrement() == 0) {
        LOG.warn("Redis circuit breaker open{}: answering from the cache and defaults without asking Redis; "
            + "probing every {} ms", breakers.length > 1 ? " for some hash slots" : "",
            config.breakerResetAfter().toMillis());
      }
    });
    b.closeHandler(v -> {
      if (breakerOpen.compareAndSet(index, 1, 0) && breakersOpen.decrementAndGet() == 0) {
        LOG.info("Redis circuit breaker closed: profile reads resumed");
      }
    });
    return b;
  }

  /** The breaker guarding reads of this Redis key. */
  private CircuitBreaker breakerFor(String key) {
    return breakers.length == 1 ? breakers[0] : breakers[ZModem.generate(key) * CLUSTER_BREAKERS / CLUSTER_SLOTS];
  }

  /** The options of every kind of Redis connection, for the configured deployment. */
  public RedisEndpoints endpoints() {
    return endpoints;
  }

  /** Options for one event loop's read connection; the metrics name tells connections apart in Redis meters. */
  public RedisOptions redisOptions(String metricsName) {
    return endpoints.reads(metricsName);
  }

  /** Adds an event loop's connection to the ones reads are sharded over. */
  public void register(RedisLink link) {
    links.add(link);
  }

  public void unregister(RedisLink link) {
    links.remove(link);
  }

  /** The worst state of the breakers: OPEN if any is open, else HALF_OPEN if any probes, else CLOSED. */
  public CircuitBreakerState breakerState() {
    CircuitBreakerState worst = CircuitBreakerState.CLOSED;
    for (CircuitBreaker b : breakers) {
      CircuitBreakerState st = b.state();
      if (st == CircuitBreakerState.OPEN) {
        return st;
      }
      if (st == CircuitBreakerState.HALF_OPEN) {
        worst = st;
      }
    }
    return worst;
  }

  /** True when at least one event loop holds a live connection. */
  public boolean connected() {
    for (RedisLink l : links) {
      if (l.connected()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Reads one profile. A reader with no hash in Redis yields an empty profile, not a failure. The future completes
   * on the event loop of the connection used.
   *
   * <p>Reads are sharded over the per-loop connections by uid and always handed to the owning loop as a task, even
   * when that is the caller's own loop: a loop's queued reads then reach Redis together (see {@link RedisLink}).
   * Every read of a reader goes through the same connection, so they reach Redis in order. The breaker runs on the
   * owning loop, where the read completes: its deadline timer and the reply never race across threads.
   */
  public Future<Profile> fetch(String uid) {
    if (schema.size() == 0) {
      return Future.succeededFuture(new Profile(new String[0], ticker.read()));
    }
    String key = config.profileKey(uid);
    return onOwningLoop(uid, link -> {
      long started = System.nanoTime();
      return breakerFor(key).<Profile>execute(() -> withDeadline(link.send(hmget(key)))
              .map(this::toProfile).recover(this::wrongTypeAsEmpty))
          .onSuccess(p -> meters.redisRead(System.nanoTime() - started, null))
          .recover(err -> {
            RedisUnavailableException failure = failedOn(link, err);
            meters.redisRead(System.nanoTime() - started, failure.reason());
            return Future.failedFuture(failure);
          });
    });
  }

  /**
   * Any other read (catalog, links), with the same deadline, breakers and sharding as profile reads: one command
   * reading the Redis key {@code key}. Fails with a {@link RedisUnavailableException}.
   */
  public Future<Response> read(String key, Request request) {
    return onOwningLoop(key, link -> breakerFor(key).<Response>execute(() -> withDeadline(link.send(request)))
        .recover(err -> Future.failedFuture(failedOn(link, err))));
  }

  /**
   * Runs a read on the owning link's event loop, as a task. The read's deadline (the breaker's) starts there: a
   * loop that takes long to reach the task delays every request on it alike, which the blocked-thread checker and
   * the request latency meters report; no second timer per read guards the hand-over.
   */
  private <T> Future<T> onOwningLoop(String shardKey, java.util.function.Function<RedisLink, Future<T>> action) {
    List<RedisLink> current = links;
    if (current.isEmpty()) {
      return Future.failedFuture(new RedisUnavailableException(FallbackReason.NOT_CONNECTED, "no Redis link registered"));
    }
    RedisLink link = current.get(Math.floorMod(shardKey.hashCode(), current.size()));
    Promise<T> promise = Promise.promise();
    link.context().runOnContext(v -> action.apply(link).onComplete(promise));
    return promise.future();
  }

  /**
   * The read's deadline, on the calling (the link's) event loop: fails with the breaker's {@code TimeoutException}
   * when Redis did not answer in time, or with {@link LoopStalledException} when the timer itself ran late because
   * the loop was stalled. A reply that arrives afterwards is dropped by the completed promise.
   */
  private <T> Future<T> withDeadline(Future<T> operation) {
    Promise<T> result = Promise.promise();
    long due = System.nanoTime() + deadlineMs * 1_000_000L;
    long timer = vertx.setTimer(deadlineMs, id -> {
      long late = System.nanoTime() - due;
      if (late > stallNanos) {
        if (result.tryFail(new LoopStalledException(late / 1_000_000L))) {
          meters.loopStalled();
        }
      } else {
        result.tryFail(io.vertx.circuitbreaker.TimeoutException.INSTANCE);
      }
    });
    operation.onComplete(ar -> {
      vertx.cancelTimer(timer);
      if (ar.succeeded()) {
        result.tryComplete(ar.result());
      } else {
        result.tryFail(ar.cause());
      }
    });
    return result.future();
  }

  /**
   * Classifies a failed read on a link, and tells the link when it missed its deadline (a stalled client; not when
   * the loop itself was stalled). Runs on the link's loop: the breaker completes where {@link #onOwningLoop} ran it.
   */
  private static RedisUnavailableException failedOn(RedisLink link, Throwable err) {
    RedisUnavailableException failure = classify(err);
    if (err instanceof io.vertx.circuitbreaker.TimeoutException) {
      link.missedDeadline();
    }
    return failure;
  }


  /**
   * A profile key holding something other than a hash is bad data for one reader, not a sick Redis: it must not
   * count towards opening the breaker for everyone. That reader is treated as unknown (defaults).
   */
  private Future<Profile> wrongTypeAsEmpty(Throwable err) {
    String msg = err.getMessage();
    if (msg != null && msg.startsWith("WRONGTYPE")) {
      LOG.debug("profile key is not a hash; answering defaults for that reader");
      return Future.succeededFuture(new Profile(new String[schema.size()], ticker.read()));
    }
    return Future.failedFuture(err);
  }

  private Request hmget(String key) {
    Request r = Request.cmd(Command.HMGET).arg(key);
    for (String f : schema.fields()) {
      r.arg(f);
    }
    return r;
  }

  private Profile toProfile(Response reply) {
    int fields = schema.size();
    Buffer[] values = new Buffer[reply == null ? 0 : Math.min(fields, reply.size())];
    for (int i = 0; i < values.length; i++) {
      Response v = reply.get(i);
      values[i] = v == null ? null : v.toBuffer();
    }
    return Profile.fromBuffers(values, fields, ticker.read());
  }

  private static RedisUnavailableException classify(Throwable err) {
    if (err instanceof RedisUnavailableException r) {
      return r;
    }
    if (err instanceof io.vertx.circuitbreaker.TimeoutException) {
      return new RedisUnavailableException(FallbackReason.TIMEOUT, "Redis read exceeded its deadline");
    }
    if (err instanceof LoopStalledException) {
      return new RedisUnavailableException(FallbackReason.TIMEOUT, err.getMessage());
    }
    if (err instanceof OpenCircuitException) {
      return new RedisUnavailableException(FallbackReason.BREAKER_OPEN, "Redis circuit breaker is open");
    }
    return new RedisUnavailableException(FallbackReason.ERROR, "Redis read failed: " + err.getMessage());
  }

  /** The registered links (for tests). */
  List<RedisLink> links() {
    return links;
  }

  public void close() {
    for (CircuitBreaker b : breakers) {
      b.close();
    }
  }
}
