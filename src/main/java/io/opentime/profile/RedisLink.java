package io.opentime.profile;

import io.opentime.config.RedisConfig;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One long-lived Redis connection owned by one event loop. Every command sent on it pipelines, so a burst of misses
 * costs one connection per loop, not one pooled connection per command (the pooled client would refuse a burst
 * beyond its pool and wait queue). A read link also batches: the reads sent during one turn of its event loop (or,
 * with a batch window, during that window) are written with one system call instead of one each (measured: about
 * 1.5 times the cold answers per second; the window takes a few percent more off each read's CPU, gateway's and
 * Redis's, under load). It
 * reconnects by itself with capped, jittered exponential backoff; while disconnected, {@link #send} fails at once
 * instead of waiting.
 *
 * <p>Sentinel and Cluster connections span several servers, and losing one of them leaves the rest usable: a
 * Cluster connection still reaches the masters that are up, a Sentinel one is moved to a new master by the client
 * itself. So in those modes a dropped server does not drop the connection: it keeps serving while a fresh one is
 * made in the background (with the same backoff, as the cluster reports its new topology only once the failover is
 * over), then the fresh one replaces it. A command that fails for a reason other than a Redis error reply (a closed
 * socket, an unreachable node) also asks for a fresh connection.
 *
 * <p>A Cluster client refreshes its slot map by asking the seed nodes in order, with no deadline: a seed that hangs
 * (paused, or cut off without a reset) stalls that refresh, and with it every command of the client, for as long
 * as it hangs. So when {@link #STALL_LIMIT} commands in a row miss their deadline ({@link #missedDeadline()}) with
 * no reply in between, the link builds a new client whose seed list starts one node further, connects it, and
 * swaps it in; the old client is closed.
 *
 * <p>Threading: all methods must be called on {@link #context()}; {@link ProfileStore} routes calls there.
 */
public final class RedisLink {

  private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
  private static final long FIRST_RETRY_MS = 50;
  /** Commands in a row that miss their deadline before a Cluster link rebuilds its client. */
  static final int STALL_LIMIT = 20;
  private static final long REBUILD_DEADLINE_MS = 3000;
  /** Most commands written together (the client queues at most 2048 awaiting replies per connection). */
  private static final int MAX_BATCH = 256;

  private final Vertx vertx;
  private final ContextInternal context;
  private Redis client;
  private final RedisOptions options;
  /** How far the seed list is rotated for the current client (Cluster). */
  private int rotation;
  private int missedInARow;
  private boolean rebuilding;
  private final String name;
  private final Backoff backoff;
  private RedisConnection connection;
  private boolean connecting;
  /** The current connection lost a server; a replacement is on its way. */
  private boolean stale;
  private boolean closed;
  private long retryTimer = -1;
  private boolean reportedDown;
  /** True for Sentinel and Cluster: a connection spanning several servers is replaced, not dropped. */
  private final boolean replaceInPlace;
  private final boolean batching;
  /** How long a batch gathers reads before it is written; 0: to the end of the loop's current turn. */
  private final long batchWindowNanos;
  private final Runnable flushTask;
  /** Commands waiting for this turn's flush, and their callers (batching only). */
  private final List<Request> queued = new ArrayList<>();
  private final List<Reply> waiting = new ArrayList<>();
  private boolean flushScheduled;

  /** Must be created on the event loop that will use it (in a verticle's start). Sends each command at once. */
  public RedisLink(Vertx vertx, RedisOptions options, Duration reconnectMaxDelay, String name) {
    this(vertx, options, reconnectMaxDelay, name, false, Duration.ZERO);
  }

  /**
   * As above; with {@code batchReads}, the commands sent during one turn of the event loop are written to Redis
   * together (one write, one system call) on a single-server connection (standalone or Sentinel). For idempotent
   * commands only (reads): when Redis answers any of a batch with an error, each command of it is sent again on
   * its own so that each gets its own reply. A positive {@code batchWindow} holds the first read of a batch that long
   * (so later reads join it) before the batch is written: fewer, larger writes for Redis and the gateway alike, at
   * the price of that much latency per read.
   */
  public RedisLink(Vertx vertx, RedisOptions options, Duration reconnectMaxDelay, String name, boolean batchReads,
                   Duration batchWindow) {
    this.vertx = vertx;
    this.context = (ContextInternal) vertx.getOrCreateContext();
    this.options = options;
    this.client = Redis.createClient(vertx, options);
    this.replaceInPlace = options.getType() != RedisClientType.STANDALONE;
    // A cluster connection batches only commands of one slot: reads of many readers are sent one by one there.
    this.batching = batchReads && options.getType() != RedisClientType.CLUSTER;
    this.batchWindowNanos = batchWindow.toNanos();
    this.flushTask = () -> context.emit(v -> flush()); // runs on the link's loop: a Vert.x task from there
    this.name = name;
    this.backoff = new Backoff(FIRST_RETRY_MS, reconnectMaxDelay.toMillis());
  }

  public Context context() {
    return context;
  }

  /** True when the calling thread is this link's event loop: its methods may be called directly. */
  public boolean onItsLoop() {
    return context.nettyEventLoop().inEventLoop();
  }

  /**
   * The caller of one command sent with {@link #send(Request, Reply)}: exactly one of its methods is called, once,
   * on the link's event loop. {@code failed} gets a {@link Response} when Redis answered with an error reply.
   */
  public interface Reply {
    void succeeded(Response response);

    void failed(Throwable cause);
  }

  public boolean connected() {
    return connection != null;
  }

  /**
   * Starts connecting. Completes when the first attempt ends, successfully or not: a gateway starts, and serves
   * defaults, even if Redis is down.
   */
  public Future<Void> start() {
    return connect().otherwiseEmpty().mapEmpty();
  }

  /** Sends one command on this loop's connection; fails at once with NOT_CONNECTED while there is none. */
  public Future<Response> send(Request request) {
    Promise<Response> promise = Promise.promise();
    send(request, new Reply() {
      @Override
      public void succeeded(Response response) {
        promise.complete(response);
      }

      @Override
      public void failed(Throwable cause) {
        promise.fail(cause);
      }
    });
    return promise.future();
  }

  /**
   * Sends one command on this loop's connection and tells {@code reply} how it ended: at once (NOT_CONNECTED) while
   * there is no connection. Must be called on {@link #context()}. The cheaper form of {@link #send(Request)}: no
   * future per command, which on the cold path is a measurable share of a read.
   */
  public void send(Request request, Reply reply) {
    RedisConnection c = connection;
    if (c == null) {
      reply.failed(new RedisUnavailableException(FallbackReason.NOT_CONNECTED, "not connected to Redis"));
      return;
    }
    if (!batching) {
      sendNow(c, request).onComplete(ar -> settle(reply, ar.result(), ar.cause()));
      return;
    }
    queued.add(request);
    waiting.add(reply);
    if (!flushScheduled) {
      flushScheduled = true;
      if (batchWindowNanos > 0) {
        // Netty's timer (timerfd with the epoll transport) is finer than Vert.x's, which counts whole milliseconds
        context.nettyEventLoop().schedule(flushTask, batchWindowNanos, TimeUnit.NANOSECONDS);
      } else {
        context.runOnContext(v -> flush()); // after the tasks already queued on this loop: they join the batch
      }
    }
  }

  private static void settle(Reply reply, Response response, Throwable cause) {
    if (cause == null) {
      reply.succeeded(response);
    } else {
      reply.failed(cause);
    }
  }

  private Future<Response> sendNow(RedisConnection c, Request request) {
    Future<Response> reply = c.send(request).onSuccess(r -> missedInARow = 0);
    if (replaceInPlace) {
      reply = reply.onFailure(err -> {
        if (!(err instanceof Response)) { // not an error reply from Redis: the connection itself failed
          dropped(c, err.getMessage(), true);
        }
      });
    }
    return reply;
  }

  private void flush() {
    flushScheduled = false;
    List<Request> requests = new ArrayList<>(queued);
    List<Reply> replies = new ArrayList<>(waiting);
    queued.clear();
    waiting.clear();
    RedisConnection c = connection;
    if (c == null) {
      RedisUnavailableException down = new RedisUnavailableException(FallbackReason.NOT_CONNECTED, "not connected to Redis");
      replies.forEach(r -> r.failed(down));
      return;
    }
    for (int from = 0; from < requests.size(); from += MAX_BATCH) {
      int to = Math.min(requests.size(), from + MAX_BATCH);
      sendBatch(c, requests.subList(from, to), replies.subList(from, to));
    }
  }

  private void sendBatch(RedisConnection c, List<Request> requests, List<Reply> replies) {
    if (requests.size() == 1) {
      Reply only = replies.get(0);
      sendNow(c, requests.get(0)).onComplete(ar -> settle(only, ar.result(), ar.cause()));
      return;
    }
    c.batch(requests).onComplete(ar -> {
      if (ar.succeeded()) {
        missedInARow = 0;
        List<Response> answers = ar.result();
        for (int i = 0; i < replies.size(); i++) {
          replies.get(i).succeeded(answers.get(i));
        }
      } else if (ar.cause() instanceof Response) {
        // Redis refused at least one of them: give each its own reply (or error)
        for (int i = 0; i < requests.size(); i++) {
          Reply each = replies.get(i);
          sendNow(c, requests.get(i)).onComplete(r -> settle(each, r.result(), r.cause()));
        }
      } else {
        if (replaceInPlace) {
          dropped(c, ar.cause().getMessage(), true);
        }
        replies.forEach(r -> r.failed(ar.cause()));
      }
    });
  }

  private Future<RedisConnection> connect() {
    if (closed || connecting || (connection != null && !stale)) {
      return Future.failedFuture("not connecting");
    }
    connecting = true;
    Redis used = client;
    return used.connect()
        .onSuccess(c -> {
          connecting = false;
          if (closed || used != client) { // closed, or a rebuilt client took over meanwhile
            c.close();
            return;
          }
          adopt(c);
          backoff.reset();
          if (reportedDown) {
            LOG.info("Redis connection {} re-established", name);
            reportedDown = false;
          }
        })
        .onFailure(err -> {
          connecting = false;
          if (!reportedDown) {
            LOG.warn("Redis connection {} unavailable ({}); serving cached data and defaults, retrying", name, err.getMessage());
            reportedDown = true;
          }
          scheduleReconnect();
        });
  }

  private void dropped(RedisConnection c, String why, boolean stillOpen) {
    if (connection != c || stale) {
      return;
    }
    if (replaceInPlace) {
      stale = true; // keeps serving what it still reaches until a fresh connection replaces it
    } else {
      connection = null;
      if (stillOpen) {
        c.close(); // an ended connection is already closed; closing it again trips the client's own checks
      }
    }
    if (!closed) {
      if (!reportedDown) {
        LOG.warn("Redis connection {} lost ({}); reconnecting", name, why);
        reportedDown = true;
      }
      scheduleReconnect();
    }
  }

  /**
   * Tells the link that one of its commands missed the caller's deadline (call on {@link #context()}). Enough of
   * them in a row, on a Cluster link, rebuild its client from the next seed (see the class comment).
   */
  public void missedDeadline() {
    if (++missedInARow < STALL_LIMIT || options.getType() != RedisClientType.CLUSTER || rebuilding || closed
        || options.getEndpoints().size() < 2) {
      return;
    }
    rebuilding = true;
    missedInARow = 0;
    rotation = (rotation + 1) % options.getEndpoints().size();
    List<String> seeds = new ArrayList<>(options.getEndpoints());
    Collections.rotate(seeds, -rotation);
    Redis fresh = Redis.createClient(vertx, new RedisOptions(options).setEndpoints(seeds));
    LOG.warn("Redis connection {}: {} commands in a row missed their deadline; rebuilding the cluster client from "
        + "seed {}", name, STALL_LIMIT, RedisConfig.redacted(seeds.get(0)));
    // A cluster connect also waits for every node's handshake, with no deadline of its own: bound it here, so a
    // rebuild attempted while a hung node is still in the slot map is dropped and tried again later.
    fresh.connect().timeout(REBUILD_DEADLINE_MS, TimeUnit.MILLISECONDS).onComplete(ar -> {
      rebuilding = false;
      if (ar.failed() || closed) {
        if (ar.succeeded()) {
          ar.result().close();
        }
        fresh.close();
        if (ar.failed()) {
          LOG.warn("Redis connection {}: the rebuilt client could not connect ({}); will try the next seed",
              name, ar.cause().getMessage());
        }
        return;
      }
      Redis old = client;
      client = fresh;
      adopt(ar.result());
      old.close();
    });
  }

  /** Makes {@code c} the link's connection, watching it for loss, and closes the one it replaces. */
  private void adopt(RedisConnection c) {
    RedisConnection replaced = connection;
    connection = c;
    stale = false;
    c.exceptionHandler(err -> dropped(c, err.getMessage(), true));
    c.endHandler(v -> dropped(c, "connection closed", false));
    if (replaced != null) {
      replaced.close(); // its commands in flight still complete or fail on their own
    }
  }

  private void scheduleReconnect() {
    if (closed || retryTimer != -1) {
      return;
    }
    retryTimer = vertx.setTimer(backoff.next(), id -> {
      retryTimer = -1;
      connect();
    });
  }

  public Future<Void> close() {
    closed = true;
    if (retryTimer != -1) {
      vertx.cancelTimer(retryTimer);
    }
    RedisConnection c = connection;
    connection = null;
    Future<Void> f = c == null ? Future.succeededFuture() : c.close().otherwiseEmpty();
    return f.eventually(client::close);
  }
}
