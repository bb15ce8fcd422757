package io.opentime.profile;

import com.github.benmanes.caffeine.cache.Ticker;
import io.opentime.config.RedisConfig;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.ZModem;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads profiles from Redis: one {@code HMGET profile:{<uid>} <schema fields>} per read, on one of the per-event-loop
 * {@link RedisLink}s (the calling loop's own), bounded by the configured deadline and guarded by a circuit breaker: one per
 * process, or in Cluster mode one per group of hash slots, so a sick master does not stop reads from the others.
 *
 * <p>Failure semantics: the returned future fails with a {@link RedisUnavailableException} whose reason says why
 * (timeout, error, breaker open, not connected). While the breaker is open nothing is sent to Redis, so a hung Redis
 * does not accumulate commands; after {@code breaker.reset-after} one probe read is let through.
 *
 * <p>Deadlines and stalls: the deadlines of a link's reads are kept on its event loop. When that loop itself was stalled
 * (a long garbage-collection pause, CPU starvation), every read in flight misses its deadline at once, late, through
 * no fault of Redis: such a miss still answers defaults, but is not counted towards opening the breaker (nor towards
 * rebuilding a cluster client). Without this, one 100 ms pause under load opened the breaker and turned a second of
 * answers into defaults while Redis was healthy.
 */
public final class ProfileStore {

  private static final Logger LOG = LoggerFactory.getLogger(ProfileStore.class);

  private final RedisConfig config;
  private final ProfileSchema schema;
  /** The schema's field names as UTF-8, encoded once: every profile read sends all of them. */
  private final byte[][] fieldNames;
  private final Ticker ticker;
  /** One breaker per group of hash slots in Cluster mode (a sick master trips only its own); else one. */
  private final CircuitBreaker[] breakers;
  /**
   * Per breaker: 1 while closed, as its handlers last reported it. Reads check this instead of
   * {@link CircuitBreaker#state()}, which takes the breaker's lock (shared by every event loop).
   */
  private final AtomicIntegerArray breakerClosed;
  /** Per breaker: 1 when failures were reported to it since the last success (a success then resets its count). */
  private final AtomicIntegerArray failuresSinceSuccess;
  /** One per registered link; replaced whole (never changed in place), so a read sees a consistent set. */
  private volatile Lane[] lanes = new Lane[0];
  private final AtomicIntegerArray breakerOpen;
  private final AtomicInteger breakersOpen = new AtomicInteger();
  private final ProfileMeters meters;
  private final RedisEndpoints endpoints;
  private final Vertx vertx;
  private final long deadlineNanos;
  /** A lane's timer that fires this much later than due means its loop was stalled. */
  private final long stallNanos;
  /** Longest gap between two checks of a lane's deadlines while reads are in flight on it. */
  private final long tickNanos;

  /**
   * Breakers in Cluster mode: the 16384 slots in groups of 256. A master owns whole ranges of slots, so a master that
   * hangs or dies opens the breakers of its groups (plus at most one shared group at each end of its ranges) and
   * readers whose slots live on healthy masters keep being read.
   */
  static final int CLUSTER_BREAKERS = 64;
  private static final int CLUSTER_SLOTS = 16384;
  private static final long STALL_SLACK_MIN_NANOS = 10_000_000L;

  /** A read that missed its deadline after its own event loop was stalled. Not counted against Redis. */
  static final class LoopStalledException extends RuntimeException {
    LoopStalledException() {
      super("the read missed its deadline after its event loop was stalled", null, false, false);
    }
  }

  public ProfileStore(Vertx vertx, RedisConfig config, ProfileSchema schema, Ticker ticker, ProfileMeters meters) {
    this.meters = meters;
    this.config = config;
    this.vertx = vertx;
    this.deadlineNanos = config.deadline().toNanos();
    this.stallNanos = Math.max(STALL_SLACK_MIN_NANOS, config.deadline().toNanos() / 2);
    this.tickNanos = Math.max(1_000_000L, Math.min(5_000_000L, deadlineNanos / 5));
    this.endpoints = new RedisEndpoints(config);
    this.schema = schema;
    this.fieldNames = schema.fields().stream().map(f -> f.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    this.ticker = ticker;
    int n = config.mode() == RedisConfig.Mode.CLUSTER ? CLUSTER_BREAKERS : 1;
    this.breakers = new CircuitBreaker[n];
    this.breakerOpen = new AtomicIntegerArray(n);
    this.breakerClosed = new AtomicIntegerArray(n);
    this.failuresSinceSuccess = new AtomicIntegerArray(n);
    for (int i = 0; i < n; i++) {
      breakerClosed.set(i, 1);
      breakers[i] = breaker(vertx, i);
    }
  }

  private CircuitBreaker breaker(Vertx vertx, int index) {
    CircuitBreaker b = CircuitBreaker.create("redis-profiles-" + index, vertx, new CircuitBreakerOptions()
        .setMaxFailures(config.breakerFailures())
        .setTimeout(-1) // the deadline is the lane's, which tells a stalled loop from a slow Redis
        .setResetTimeout(config.breakerResetAfter().toMillis())
        .setFallbackOnFailure(false)
        .setNotificationAddress(null));
    b.failurePolicy(outcome -> outcome.failed() && !(outcome.cause() instanceof LoopStalledException));
    // Logged once per outage, not on every failed probe nor for every slot group.
    b.openHandler(v -> {
      breakerClosed.set(index, 0);
      if (breakerOpen.compareAndSet(index, 0, 1) && breakersOpen.getAndIncrement() == 0) {
        LOG.warn("Redis circuit breaker open{}: answering from the cache and defaults without asking Redis; "
            + "probing every {} ms", breakers.length > 1 ? " for some hash slots" : "",
            config.breakerResetAfter().toMillis());
      }
    });
    b.halfOpenHandler(v -> breakerClosed.set(index, 0));
    b.closeHandler(v -> {
      breakerClosed.set(index, 1);
      if (breakerOpen.compareAndSet(index, 1, 0) && breakersOpen.decrementAndGet() == 0) {
        LOG.info("Redis circuit breaker closed: profile reads resumed");
      }
    });
    return b;
  }

  /** The options of every kind of Redis connection, for the configured deployment. */
  public RedisEndpoints endpoints() {
    return endpoints;
  }

  /** Options for one event loop's read connection; the metrics name tells connections apart in Redis meters. */
  public RedisOptions redisOptions(String metricsName) {
    return endpoints.reads(metricsName);
  }

  /** Adds an event loop's connection to the ones reads are sent on. */
  public synchronized void register(RedisLink link) {
    Lane[] more = Arrays.copyOf(lanes, lanes.length + 1);
    more[lanes.length] = new Lane(link);
    lanes = more;
  }

  /** Stops sending reads on {@code link}; reads already on it still end (by reply, failure or deadline). */
  public synchronized void unregister(RedisLink link) {
    lanes = Arrays.stream(lanes).filter(l -> l.link != link).toArray(Lane[]::new);
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
    for (Lane l : lanes) {
      if (l.link.connected()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Reads one profile. A reader with no hash in Redis yields an empty profile, not a failure. The future completes
   * on the event loop of the connection used.
   */
  public Future<Profile> fetch(String uid) {
    return Future.fromCompletionStage(load(uid));
  }

  /**
   * Reads one profile, as {@link #fetch} does, into a {@link CompletableFuture} (what the profile cache holds): the
   * cold path's form, with no Vert.x future between Redis's reply and the cache.
   *
   * <p>A read goes on the calling event loop's own connection, at once, and joins the batch that loop writes to
   * Redis at the end of its turn (see {@link RedisLink}); it completes on that loop, so the answer needs no hand-over
   * between threads. Called off every loop with a connection (a worker, a test), the read is handed as a task to a
   * loop chosen by uid. Which connection carries a read does not change what it returns: the cache lets one read
   * per reader be in flight, and a read started before an invalidation is never stored after it. The breaker and the
   * deadline act on the loop that sends the read, where it completes: the deadline and the reply never race across
   * threads.
   */
  public CompletableFuture<Profile> load(String uid) {
    if (schema.size() == 0) {
      return CompletableFuture.completedFuture(new Profile(new String[0], ticker.read()));
    }
    String key = config.profileKey(uid);
    CompletableFuture<Profile> result = new CompletableFuture<>();
    start(uid, new Read<>(key, hmget(key), this::toProfile, this::wrongTypeAsEmpty, result, true));
    return result;
  }

  /**
   * Any other read (catalog, links), with the same deadline, breakers and choice of connection as profile reads: one command
   * reading the Redis key {@code key}. Fails with a {@link RedisUnavailableException}.
   */
  public Future<Response> read(String key, Request request) {
    CompletableFuture<Response> result = new CompletableFuture<>();
    start(key, new Read<>(key, request, r -> r, null, result, false));
    return Future.fromCompletionStage(result);
  }

  /**
   * Starts a read on the calling loop's lane, at once; called off every lane's loop, as a task on the lane that
   * {@code shardKey} picks.
   */
  private void start(String shardKey, Read<?> read) {
    Lane[] current = lanes;
    if (current.length == 0) {
      read.result.completeExceptionally(
          new RedisUnavailableException(FallbackReason.NOT_CONNECTED, "no Redis link registered"));
      return;
    }
    for (Lane own : current) {
      if (own.link.onItsLoop()) {
        read.lane = own;
        read.begin();
        return;
      }
    }
    Lane lane = current[Math.floorMod(shardKey.hashCode(), current.length)];
    read.lane = lane;
    lane.link.context().runOnContext(read);
  }

  /**
   * One event loop's connection and the deadlines of the reads in flight on it. All reads have the same deadline,
   * so they expire in the order they were sent: one timer per lane does what a timer per read did (setting and
   * cancelling one per read was about 2% of a cold answer). While reads are in flight it fires at least every
   * {@code tickNanos}, which also tells when the loop itself stalls.
   *
   * <p>A stall: the timer fired more than the stall slack late, so for that long the loop (and on a small machine
   * often the whole box, Redis included, as in a garbage-collection pause) did nothing. A read that was in flight
   * during a stall and then misses its deadline fails with {@link LoopStalledException}: it answers defaults but
   * does not count against Redis. Judging each read by its own lateness instead was not enough: the reads sent just
   * before a 30-40 ms pause come due just before it ends, only a little late, and their replies, delayed by the
   * pause, are read after their deadlines; under load that was enough of them in a row to open the breaker on a
   * healthy Redis. And such a read is given up only one tick after the stall ended: the loop may not yet have
   * written its batch, nor read the replies that came in while it stood still. Used only on the lane's event loop.
   */
  private final class Lane {
    final RedisLink link;
    private final ArrayDeque<Read<?>> inFlight = new ArrayDeque<>();
    private long timer = -1;
    /** When the armed timer is due. */
    private long armedFor;
    /** When the last stall this lane saw ended (its timer fired late); reads sent before then lived through it. */
    private long stallEnded;
    private boolean stalledBefore;

    Lane(RedisLink link) {
      this.link = link;
    }

    void track(Read<?> read) {
      inFlight.addLast(read);
      if (timer == -1) {
        arm(read.due - deadlineNanos); // the read was sent just now: its send time is the current time
      }
    }

    /** Drops the settled reads at the head (replies come back in the order sent: usually the one just settled). */
    void trim() {
      Read<?> head;
      while ((head = inFlight.peekFirst()) != null && head.settled) {
        inFlight.pollFirst();
      }
    }

    private void arm(long now) {
      armAt(now, Math.min(inFlight.peekFirst().due, now + tickNanos));
    }

    private void armAt(long now, long at) {
      armedFor = at;
      timer = vertx.setTimer(Math.max(1, (at - now + 999_999) / 1_000_000), id -> sweep());
    }

    private void sweep() {
      timer = -1;
      long now = System.nanoTime();
      if (now - armedFor > stallNanos) {
        stallEnded = now;
        stalledBefore = true;
      }
      Read<?> head;
      while ((head = inFlight.peekFirst()) != null) {
        if (head.settled) {
          inFlight.pollFirst();
          continue;
        }
        if (head.due - now > 0) {
          arm(now);
          return;
        }
        boolean livedThroughStall = stalledBefore && head.due - deadlineNanos - stallEnded < 0;
        if (livedThroughStall && now - stallEnded < tickNanos) {
          // Just back from a stall: what the loop did not do meanwhile (write its batch to Redis, read the replies
          // that arrived) comes first, so a healthy Redis still answers instead of the defaults.
          armAt(now, stallEnded + tickNanos);
          return;
        }
        inFlight.pollFirst();
        head.expire(livedThroughStall);
      }
    }
  }

  /**
   * One read: its breaker, deadline, reply and result in one object, in place of a chain of futures (the chain and
   * its tasks were about a sixth of the gateway's CPU on a cold answer). Lives on its lane's event loop from
   * {@link #begin} on.
   *
   * <p>While the breaker is closed a read is sent directly and its outcome reported to the breaker afterwards: a
   * failure always, a success only when failures were counted since the last one (what resets the breaker's count).
   * While it is open or half-open the read goes through {@link CircuitBreaker#execute}, which fails it at once or
   * lets it through as the probe.
   */
  private final class Read<T> implements RedisLink.Reply, Handler<Void> {
    final String key;
    final Request request;
    final Function<Response, T> convert;
    /** Turns some failures into a result (a profile key that is not a hash); null: none. */
    final Function<Throwable, T> recover;
    final CompletableFuture<T> result;
    final boolean profileRead;
    Lane lane;
    /** Its breaker's index, from the key (a CRC16 in Cluster mode): computed once, in {@link #begin}. */
    int breaker;
    long started;
    long due;
    boolean settled;
    /** Set while the read runs as the breaker's operation (open or half-open breaker). */
    Promise<T> viaBreaker;

    Read(String key, Request request, Function<Response, T> convert, Function<Throwable, T> recover,
         CompletableFuture<T> result, boolean profileRead) {
      this.key = key;
      this.request = request;
      this.convert = convert;
      this.recover = recover;
      this.result = result;
      this.profileRead = profileRead;
    }

    @Override
    public void handle(Void v) {
      begin();
    }

    void begin() {
      started = System.nanoTime();
      breaker = breakerIndex(key);
      if (breakerClosed.get(breaker) == 1) {
        transmit();
        return;
      }
      breakers[breaker].<T>execute(() -> {
        viaBreaker = Promise.promise();
        transmit();
        return viaBreaker.future();
      }).onComplete(ar -> deliver(ar.result(), ar.cause()));
    }

    private void transmit() {
      due = System.nanoTime() + deadlineNanos;
      lane.link.send(request, this);
      if (!settled) {
        lane.track(this);
      }
    }

    @Override
    public void succeeded(Response response) {
      if (settled) {
        return; // answered after its deadline: already failed
      }
      T value;
      try {
        value = convert.apply(response);
      } catch (RuntimeException e) {
        settle(null, e);
        return;
      }
      settle(value, null);
    }

    @Override
    public void failed(Throwable cause) {
      if (settled) {
        return;
      }
      T recovered = recover == null ? null : recover.apply(cause);
      settle(recovered, recovered != null ? null : cause);
    }

    /** The deadline passed with no reply: Redis was slow, or ({@code stalled}) the read lived through a stall. */
    void expire(boolean stalled) {
      if (settled) {
        return;
      }
      if (stalled) {
        meters.loopStalled();
        settle(null, new LoopStalledException());
      } else {
        settle(null, io.vertx.circuitbreaker.TimeoutException.INSTANCE);
      }
    }

    private void settle(T value, Throwable failure) {
      settled = true;
      lane.trim();
      if (viaBreaker != null) {
        if (failure == null) {
          viaBreaker.complete(value);
        } else {
          viaBreaker.fail(failure); // the breaker counts it (or not: a stalled loop) and then delivers it
        }
        return;
      }
      report(breaker, failure);
      deliver(value, failure);
    }

    private void deliver(T value, Throwable failure) {
      if (failure == null) {
        if (profileRead) {
          meters.redisRead(System.nanoTime() - started, null);
        }
        result.complete(value);
        return;
      }
      if (failure instanceof io.vertx.circuitbreaker.TimeoutException) {
        lane.link.missedDeadline(); // a stalled client, not a stalled loop
      }
      RedisUnavailableException unavailable = classify(failure);
      if (profileRead) {
        meters.redisRead(System.nanoTime() - started, unavailable.reason());
      }
      result.completeExceptionally(unavailable);
    }
  }

  /**
   * Tells breaker {@code index} how a read sent past it (while it was closed) ended. Failures are counted as
   * {@link CircuitBreaker#execute} counts them (not a stalled loop's); a success is reported only when failures
   * were counted since the last one, which is when it changes anything (it resets the count). Nothing is reported
   * once the breaker has left the closed state: a late outcome of a read sent before must not act as its probe.
   */
  private void report(int index, Throwable failure) {
    if (breakerClosed.get(index) == 0) {
      return;
    }
    if (failure == null) {
      if (failuresSinceSuccess.get(index) != 0 && failuresSinceSuccess.compareAndSet(index, 1, 0)) {
        breakers[index].execute(() -> Future.succeededFuture());
      }
    } else if (!(failure instanceof LoopStalledException)) {
      failuresSinceSuccess.set(index, 1);
      breakers[index].execute(() -> Future.failedFuture(failure));
    }
  }

  private int breakerIndex(String key) {
    return breakers.length == 1 ? 0 : ZModem.generate(key) * CLUSTER_BREAKERS / CLUSTER_SLOTS;
  }

  /**
   * A profile key holding something other than a hash is bad data for one reader, not a sick Redis: it must not
   * count towards opening the breaker for everyone. That reader is treated as unknown (defaults). Null for any
   * other failure.
   */
  private Profile wrongTypeAsEmpty(Throwable err) {
    String msg = err.getMessage();
    if (msg != null && msg.startsWith("WRONGTYPE")) {
      LOG.debug("profile key is not a hash; answering defaults for that reader");
      return new Profile(new String[schema.size()], ticker.read());
    }
    return null;
  }

  private Request hmget(String key) {
    // One array, sized once, for the key and the field names: built up with arg() the client's list of arguments
    // grows four times per read (it starts at the command's arity, 3). The names are shared, never written to: the
    // client only reads a command's arguments.
    Object[] args = new Object[fieldNames.length + 1];
    args[0] = key;
    System.arraycopy(fieldNames, 0, args, 1, fieldNames.length);
    return Request.cmd(Command.HMGET, args);
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
    return Arrays.stream(lanes).map(l -> l.link).toList();
  }

  public void close() {
    for (CircuitBreaker b : breakers) {
      b.close();
    }
  }
}
