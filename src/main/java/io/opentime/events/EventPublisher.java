package io.opentime.events;

import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.opentime.config.KafkaConfig;
import io.opentime.ops.EventMetrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends events to Kafka without ever making its callers wait: callers put an event in a bounded queue and go on;
 * one sender thread of its own creates the Kafka producer (off any event loop) and hands it the events in order.
 *
 * <p>While Kafka is unreachable the producer holds what it has accepted (up to its buffer, retrying for up to the
 * delivery timeout), the sender keeps the next event and retries it with backoff, and the queue fills. An event
 * that finds the queue full is refused and counted ({@code queue_full}); one the producer gives up on after the
 * delivery timeout is counted as failed. Nothing is dropped without a count.
 *
 * <p>The producer is idempotent with {@code acks=all}: a retried batch is written once per partition.
 *
 * <p>Why not vertx-kafka-client's producer here: it hands every record to a worker thread of its own and has no
 * bounded queue with counters in front of the producer; a pixel needs exactly that queue and nothing more.
 */
public final class EventPublisher implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EventPublisher.class);
  private static final long FIRST_RETRY_MS = 20;
  private static final long MAX_RETRY_MS = 1_000;
  private static final int DRAIN = 512;
  private static final long IDLE_NAP_MAX_MS = 10;

  private record Pending(String topic, String key, byte[] value, Promise<Void> acked, Context context) {
  }

  private final KafkaConfig config;
  private final EventMetrics metrics;
  private final ArrayBlockingQueue<Pending> queue;
  /** Events taken from the queue by the sender thread, not yet handed to the producer (sender thread only). */
  private final java.util.ArrayDeque<Pending> batch = new java.util.ArrayDeque<>(DRAIN);
  private final Thread sender;
  private final AtomicBoolean closing = new AtomicBoolean();
  private volatile boolean stopNow;
  private volatile Producer<String, byte[]> producer;
  private volatile KafkaClientMetrics producerMetrics;
  private volatile boolean reportedDown;

  public EventPublisher(KafkaConfig config, EventMetrics metrics) {
    this.config = config;
    this.metrics = metrics;
    this.queue = new ArrayBlockingQueue<>(config.queueCapacity());
    this.sender = new Thread(this::run, "opentime-kafka-sender");
    this.sender.setDaemon(true);
    metrics.bindQueue(queue::size);
    sender.start();
  }

  /**
   * Queues an event for Kafka and returns at once. False (and counted) when the queue is full or the publisher is
   * closing: the caller answers anyway.
   */
  public boolean offer(String topic, String key, byte[] value) {
    if (closing.get() || !queue.offer(new Pending(topic, key, value, null, null))) {
      metrics.dropped(topic);
      return false;
    }
    return true;
  }

  /**
   * Queues an event and completes, on the calling Vert.x context, once Kafka acknowledged it ({@code acks=all}).
   * Fails at once when the queue is full; fails when the producer gives up. The caller adds its own deadline.
   */
  public Future<Void> send(String topic, String key, byte[] value) {
    Context ctx = Vertx.currentContext();
    Promise<Void> acked = Promise.promise();
    if (closing.get() || !queue.offer(new Pending(topic, key, value, acked, ctx))) {
      metrics.dropped(topic);
      return Future.failedFuture(new EventsUnavailableException("the event queue is full: Kafka is not keeping up"));
    }
    return acked.future();
  }

  /** Events waiting for the producer. */
  public int queued() {
    return queue.size();
  }

  private Producer<String, byte[]> createProducer() {
    Map<String, Object> props = new HashMap<>(config.properties());
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
    props.put(ProducerConfig.CLIENT_ID_CONFIG, config.clientId() + "-events");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, config.maxBlock().toMillis());
    long delivery = config.deliveryTimeout().toMillis();
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Math.min(Integer.MAX_VALUE, delivery));
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 30_000);
    // Fewer, larger requests: what costs CPU on both ends is per request, not per byte (measured in bench/events.sh).
    props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 20);
    props.putIfAbsent(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    props.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
  }

  private void run() {
    try {
      producer = createProducer();
      producerMetrics = new KafkaClientMetrics(producer);
      producerMetrics.bindTo(metrics.registry());
    } catch (RuntimeException e) {
      LOG.error("cannot create the Kafka producer ({}); events will be counted as dropped", e.getMessage());
      closing.set(true);
      drainAsDropped();
      return;
    }
    Pending next = null;
    long retryMs = FIRST_RETRY_MS;
    int idle = 0;
    while (!stopNow) {
      try {
        if (next == null) {
          next = batch.poll();
        }
        if (next == null) {
          // Take what is waiting in one go: one lock round per batch instead of one per event.
          queue.drainTo(batch, DRAIN);
          next = batch.poll();
          if (next == null) {
            if (closing.get()) {
              break;
            }
            // Never wait on the queue's condition: then an offer never has to wake this thread (a futex wake
            // per event was a measurable part of a pixel). Nap instead, 1 ms while busy, longer once idle.
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(Math.min(IDLE_NAP_MAX_MS, 1L << Math.min(idle++, 6))));
            if (Thread.interrupted()) {
              throw new InterruptedException();
            }
            continue;
          }
          idle = 0;
        }
        hand(next);
        next = null;
        retryMs = FIRST_RETRY_MS;
        if (reportedDown) {
          reportedDown = false;
          LOG.info("Kafka accepts events again");
        }
      } catch (org.apache.kafka.common.errors.TimeoutException e) {
        // No metadata or a full buffer for max.block.ms: Kafka is away. Keep the event and retry it.
        if (!reportedDown) {
          reportedDown = true;
          LOG.warn("Kafka does not take events ({}); queueing up to {} and retrying", e.getMessage(),
              config.queueCapacity());
        }
        metrics.sendRetried();
        if (!sleep(retryMs)) {
          break;
        }
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      } catch (InterruptedException | InterruptException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException e) {
        // Not retryable (a record too large, a serializer bug): count it and go on.
        LOG.error("event for topic {} refused by the producer: {}", next == null ? "?" : next.topic(), e.toString());
        if (next != null) {
          failed(next, e);
        }
        next = null;
      }
    }
    if (next != null) {
      failed(next, new EventsUnavailableException("the gateway stopped before Kafka took this event"));
    }
    Pending p;
    while ((p = batch.poll()) != null) {
      failed(p, new EventsUnavailableException("the gateway stopped before Kafka took this event"));
    }
    drainAsDropped();
  }

  /**
   * Hands one event to the producer. A failure the producer reports while still inside {@code send} (no metadata
   * or no buffer space within max.block.ms: Kafka is away) is thrown as a TimeoutException so the caller keeps the
   * event and retries it; later failures arrive in the callback, after the producer's own retries.
   */
  private void hand(Pending p) {
    Throwable[] refused = new Throwable[1];
    producer.send(new ProducerRecord<>(p.topic(), p.key(), p.value()), (meta, err) -> {
      if (err != null && Thread.currentThread() == sender) {
        refused[0] = err; // reported synchronously from send(): not accepted
        return;
      }
      if (err == null) {
        metrics.delivered(p.topic());
        if (p.acked() != null) {
          complete(p, null);
        }
      } else {
        failed(p, err);
      }
    });
    if (refused[0] instanceof org.apache.kafka.common.errors.RetriableException retriable) {
      throw new org.apache.kafka.common.errors.TimeoutException(retriable.getMessage());
    }
    if (refused[0] != null) {
      failed(p, refused[0]);
    }
  }

  private void failed(Pending p, Throwable err) {
    metrics.failed(p.topic());
    if (p.acked() != null) {
      complete(p, err);
    } else if (!reportedDown) {
      LOG.warn("an event for topic {} could not be delivered: {}", p.topic(), err.toString());
    }
  }

  private static void complete(Pending p, Throwable err) {
    Runnable done = () -> {
      if (err == null) {
        p.acked().tryComplete();
      } else {
        p.acked().tryFail(err);
      }
    };
    if (p.context() == null) {
      done.run();
    } else {
      p.context().runOnContext(v -> done.run());
    }
  }

  private void drainAsDropped() {
    Pending p;
    while ((p = queue.poll()) != null) {
      metrics.dropped(p.topic());
      if (p.acked() != null) {
        complete(p, new EventsUnavailableException("the gateway is stopping"));
      }
    }
  }

  /** False when interrupted (the publisher is closing). */
  private static boolean sleep(long ms) {
    try {
      Thread.sleep(ms);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Stops taking events, hands what is queued to the producer and waits up to {@code timeout} for Kafka to
   * acknowledge it; what is still undelivered then is counted as failed. Blocking: call it off the event loops.
   */
  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }

  public void close(Duration timeout) {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      sender.join(Math.max(1, timeout.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    stopNow = true;
    sender.interrupt();
    Producer<String, byte[]> p = producer;
    if (p != null) {
      long left = Math.max(0, deadline - System.nanoTime());
      p.close(Duration.ofNanos(left));
    }
    if (producerMetrics != null) {
      producerMetrics.close();
    }
    int left = queue.size();
    if (left > 0) {
      LOG.warn("{} events were still queued at shutdown and are lost (counted as dropped)", left);
      drainAsDropped();
    }
  }
}
