package io.opentime.events;

import io.opentime.ops.EventMetrics;
import io.opentime.profile.Backoff;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on the invalidation channel and drops the cached profile of every uid published there, so the next open
 * after an update reads it fresh. The subscription has a connection of its own: pub/sub messages on a connection
 * that also carries commands could be taken for replies (see docs: RESP3 push messages cross replies).
 *
 * <p>When the connection drops, it resubscribes by itself with capped, jittered backoff, trying the next of the
 * given servers each time (Cluster seed nodes: a {@code PUBLISH} reaches every node of a cluster). Updates published
 * while it was away are missed; those profiles are re-read once older than {@code cache.refresh-after}, so a missed
 * invalidation costs at most that much staleness.
 */
public final class Invalidations {

  private static final Logger LOG = LoggerFactory.getLogger(Invalidations.class);
  private static final long FIRST_RETRY_MS = 50;

  private final Vertx vertx;
  private final List<Redis> clients;
  private int next;
  private final String channel;
  private final Consumer<String> invalidate;
  private final EventMetrics metrics;
  private final Backoff backoff;
  private RedisConnection connection;
  private boolean subscribed;
  private boolean closed;
  private boolean reportedDown;
  private long timer = -1;

  /**
   * @param servers where to subscribe, tried in turn (see {@link io.opentime.profile.RedisEndpoints#subscriptions})
   */
  public Invalidations(Vertx vertx, List<RedisOptions> servers, String channel, Duration reconnectMaxDelay,
                       Consumer<String> invalidate, EventMetrics metrics) {
    if (servers.isEmpty()) {
      throw new IllegalArgumentException("no server to subscribe on");
    }
    this.vertx = vertx;
    this.clients = servers.stream().map(o -> Redis.createClient(vertx, o)).toList();
    this.channel = channel;
    this.invalidate = invalidate;
    this.metrics = metrics;
    this.backoff = new Backoff(FIRST_RETRY_MS, reconnectMaxDelay.toMillis());
    metrics.bindInvalidationConnected(() -> subscribed ? 1 : 0);
  }

  /** Subscribes; completes when the first attempt ends, subscribed or not (it keeps retrying). */
  public Future<Void> start() {
    return subscribe().otherwiseEmpty().mapEmpty();
  }

  /** True while the subscription is up. */
  public boolean subscribed() {
    return subscribed;
  }

  private Future<Void> subscribe() {
    if (closed) {
      return Future.failedFuture("closed");
    }
    Redis client = clients.get(next);
    next = (next + 1) % clients.size(); // each attempt goes to the next server: one that dropped is tried last
    return client.connect().compose(c -> {
      if (closed) {
        c.close();
        return Future.failedFuture("closed");
      }
      connection = c;
      c.handler(this::message);
      c.exceptionHandler(err -> dropped(c, err.getMessage()));
      c.endHandler(v -> dropped(c, "connection closed"));
      return c.send(Request.cmd(Command.SUBSCRIBE).arg(channel)).<Void>mapEmpty().onSuccess(v -> {
        subscribed = true;
        backoff.reset();
        if (reportedDown) {
          LOG.info("invalidation subscription on {} re-established", channel);
          reportedDown = false;
        }
      }).onFailure(err -> dropped(c, err.getMessage()));
    }).onFailure(err -> {
      if (connection == null) {
        down(err.getMessage());
      }
    });
  }

  private void message(Response msg) {
    // RESP2: ["message", channel, uid]; RESP3 sends the same as a push.
    if ((msg.type() == ResponseType.MULTI || msg.type() == ResponseType.PUSH) && msg.size() == 3
        && "message".equals(msg.get(0).toString())) {
      Response uid = msg.get(2);
      if (uid != null) {
        invalidate.accept(uid.toString());
        metrics.invalidated();
      }
    }
  }

  private void dropped(RedisConnection c, String why) {
    if (connection != c) {
      return;
    }
    connection = null;
    subscribed = false;
    c.close();
    down(why);
  }

  private void down(String why) {
    if (closed) {
      return;
    }
    if (!reportedDown) {
      LOG.warn("invalidation subscription on {} lost ({}); cached profiles stay up to cache.refresh-after old; "
          + "resubscribing", channel, why);
      reportedDown = true;
    }
    if (timer != -1) {
      return;
    }
    timer = vertx.setTimer(backoff.next(), id -> {
      timer = -1;
      subscribe();
    });
  }

  /** Closes the subscription (for tests: also simulates a dropped connection when followed by nothing). */
  public Future<Void> close() {
    closed = true;
    subscribed = false;
    if (timer != -1) {
      vertx.cancelTimer(timer);
    }
    RedisConnection c = connection;
    connection = null;
    Future<Void> closing = c == null ? Future.succeededFuture() : c.close().otherwiseEmpty();
    return closing.eventually(() -> Future.join(clients.stream().map(Redis::close).toList()).otherwiseEmpty());
  }

  /** Drops the current connection as a network failure would; the subscription comes back by itself. */
  public void dropConnectionForTest() {
    RedisConnection c = connection;
    if (c != null) {
      dropped(c, "dropped by a test");
    }
  }
}
