package io.opentime.events;

import io.opentime.config.KafkaConfig;
import io.opentime.config.RedisConfig;
import io.opentime.config.UpdaterConfig;
import io.opentime.ops.EventMetrics;
import io.opentime.profile.Backoff;
import io.opentime.profile.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.consumer.OffsetAndMetadata;
import io.vertx.redis.client.RedisOptions;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies profile events from Kafka to Redis: one consumer in the updater group, one Redis connection of its own.
 * A process runs {@code updater.instances} of them (one per event loop by default) and Kafka spreads the
 * partitions over every updater of the group: more updaters than partitions leaves some idle.
 *
 * <p>At-least-once, never backwards: events of a partition are applied concurrently (pipelined), and an offset is
 * committed only when every event before it is applied, so a crash or rebalance replays, and replays are harmless
 * because the apply script is idempotent and order-independent. A poison event (not JSON, fails the schema) goes
 * to the dead-letter topic with the reason, and its offset counts as done only once Kafka acknowledged that. When
 * Redis fails, the failing event is retried with capped backoff and its partition paused (only that partition:
 * the consumer keeps polling, so it never leaves the group), and resumed when it is through.
 */
public final class UpdaterVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(UpdaterVerticle.class);
  private static final long FIRST_RETRY_MS = 50;
  private static final long COMMIT_EVERY_MS = 500;
  /** The metric tag of each ApplyResult, by ordinal (changed, unchanged, erased_before). */
  private static final String[] RESULT_TAGS = java.util.Arrays.stream(ApplyResult.values())
      .map(r -> r.name().toLowerCase(java.util.Locale.ROOT)).toArray(String[]::new);
  private static final long LAG_EVERY_MS = 5_000;
  /** Longest wait for the final commit, then for the consumer's close, when the updater stops. */
  private static final long STOP_STEP_MS = 3_000;
  private static final long FAILURE_LOG_EVERY_NS = 10_000_000_000L;
  private static final String NOT_JSON = "not a JSON object";
  private static final java.time.Duration POLL_TIMEOUT = java.time.Duration.ofMillis(20);

  private final KafkaConfig kafka;
  private final UpdaterConfig config;
  private final RedisConfig redis;
  private final RedisOptions redisOptions;
  private final EventPublisher deadLetters;
  private final EventMetrics metrics;
  private final Clock clock;
  private final Map<TopicPartition, PartitionState> partitions = new HashMap<>();
  private RedisLink link;
  private ProfileWriter writer;
  private KafkaConsumer<String, byte[]> consumer;
  private long commitTimer = -1;
  private long lagTimer = -1;
  /**
   * Set when stop() begins. From then on nothing calls the consumer but stop() itself (its final commit, then
   * close): the Vert.x client restarts a closed consumer stream on any later call, on a new client thread beside the
   * one still closing it. That thread then polls the closing consumer in a tight loop, each poll failing with
   * ConcurrentModificationException, and is never shut down (seen after a load test: the revocation that the close
   * itself triggers committed the offsets applied meanwhile).
   */
  private boolean stopping;
  private long lastFailureLog;
  private long failuresSinceLog;

  /** One partition's events in offset order, from the oldest not yet committed to the newest received. */
  private final class PartitionState {
    final TopicPartition tp;
    final ArrayDeque<Entry> entries = new ArrayDeque<>();
    long firstSeen = -1;
    int retrying;
    boolean paused;
    long committable = -1;
    long committed = -1;

    PartitionState(TopicPartition tp) {
      this.tp = tp;
    }

    boolean current() {
      return partitions.get(tp) == this;
    }
  }

  private static final class Entry {
    final long offset;
    boolean done;
    boolean failing;
    Backoff backoff;

    Entry(long offset) {
      this.offset = offset;
    }
  }

  public UpdaterVerticle(KafkaConfig kafka, UpdaterConfig config, RedisConfig redis, RedisOptions redisOptions,
                         EventPublisher deadLetters, EventMetrics metrics, Clock clock) {
    this.kafka = kafka;
    this.config = config;
    this.redis = redis;
    this.redisOptions = redisOptions;
    this.deadLetters = deadLetters;
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public Future<?> start() {
    link = new RedisLink(vertx, redisOptions, redis.reconnectMaxDelay(), "updater");
    writer = new ProfileWriter(redis.keyPrefix(), config.invalidationChannel(), link::send);
    return link.start()
        // Creating a Kafka client runs its code on the calling thread: do it on a worker, never an event loop.
        .compose(v -> vertx.executeBlocking(this::createConsumer))
        .compose(raw -> {
          // No Micrometer Kafka binder on the consumer: it calls KafkaConsumer.metrics() from its own thread, and
          // the consumer refuses concurrent access (ConcurrentModificationException, seen in a load test). The
          // lag is measured below through the client's own thread instead.
          consumer = KafkaConsumer.create(vertx, raw);
          // The client polls on one thread and runs pause/resume between polls: a long poll on paused partitions
          // would hold a resume back for the whole poll timeout (1 s by default), stalling the partition.
          consumer.pollTimeout(POLL_TIMEOUT);
          consumer.partitionsAssignedHandler(this::assigned);
          consumer.partitionsRevokedHandler(this::revoked);
          consumer.exceptionHandler(this::consumerFailed);
          consumer.handler(this::received);
          commitTimer = vertx.setPeriodic(COMMIT_EVERY_MS, id -> commit());
          lagTimer = vertx.setPeriodic(LAG_EVERY_MS, id -> measureLag());
          return consumer.subscribe(kafka.topics().profileEvents());
        })
        .onSuccess(v -> LOG.info("updater consuming {} in group {}", kafka.topics().profileEvents(), config.groupId()));
  }

  private org.apache.kafka.clients.consumer.KafkaConsumer<String, byte[]> createConsumer() {
    Map<String, Object> props = new HashMap<>(kafka.properties());
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, kafka.clientId() + "-updater-" + Integer.toHexString(
        ThreadLocalRandom.current().nextInt()));
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500);
    return new org.apache.kafka.clients.consumer.KafkaConsumer<>(props, new StringDeserializer(),
        new ByteArrayDeserializer());
  }

  private void assigned(Set<TopicPartition> assigned) {
    for (TopicPartition tp : assigned) {
      partitions.computeIfAbsent(tp, PartitionState::new);
    }
    LOG.info("updater assigned {} partition(s) of {}", assigned.size(), kafka.topics().profileEvents());
  }

  private void revoked(Set<TopicPartition> revoked) {
    // Runs after the revocation: a commit here may be refused. Whatever was not committed is replayed by the next
    // owner, and replays are harmless.
    Map<TopicPartition, OffsetAndMetadata> last = new HashMap<>();
    for (TopicPartition tp : revoked) {
      PartitionState s = partitions.remove(tp);
      if (s != null) {
        if (s.paused) {
          metrics.partitionResumed();
        }
        if (s.committable > s.committed) {
          last.put(tp, new OffsetAndMetadata(s.committable, null));
        }
      }
    }
    // Not while stopping: this revocation comes from the consumer's close, which stop() called after committing
    // what was applied; the rest is replayed. A call on a closing consumer restarts it (see #stopping).
    if (!last.isEmpty() && !stopping) {
      consumer.commit(last).onFailure(err -> LOG.debug("commit on revocation refused: {}", err.toString()));
    }
  }

  private void received(KafkaConsumerRecord<String, byte[]> record) {
    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
    PartitionState s = partitions.computeIfAbsent(tp, PartitionState::new);
    Entry entry = new Entry(record.offset());
    if (s.firstSeen < 0) {
      s.firstSeen = record.offset();
    }
    s.entries.addLast(entry);
    if (s.entries.size() >= config.maxInFlight()) {
      pause(s);
    }
    ProfileEvent event;
    try {
      event = ProfileEvent.fromJson(new JsonObject(Buffer.buffer(record.value() == null ? new byte[0] : record.value())),
          clock.instant());
    } catch (DecodeException | ClassCastException e) {
      deadLetter(s, entry, record, NOT_JSON);
      return;
    } catch (InvalidEventException e) {
      deadLetter(s, entry, record, e.getMessage());
      return;
    }
    apply(s, entry, event);
  }

  private void apply(PartitionState s, Entry entry, ProfileEvent event) {
    long started = System.nanoTime();
    writer.apply(event)
        .timeout(config.applyDeadline().toMillis(), TimeUnit.MILLISECONDS)
        .onComplete(ar -> {
          if (!s.current()) {
            return; // partition revoked meanwhile: its new owner replays it
          }
          if (ar.succeeded()) {
            metrics.applied(RESULT_TAGS[ar.result().ordinal()], System.nanoTime() - started);
            done(s, entry);
          } else {
            retry(s, entry, () -> apply(s, entry, event), "apply", ar.cause());
          }
        });
  }

  private void deadLetter(PartitionState s, Entry entry, KafkaConsumerRecord<String, byte[]> record, String reason) {
    JsonObject envelope = new JsonObject()
        .put("reason", reason)
        .put("topic", record.topic())
        .put("partition", record.partition())
        .put("offset", record.offset())
        .put("timestamp", record.timestamp());
    byte[] value = record.value() == null ? new byte[0] : record.value();
    try {
      envelope.put("value", StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(value)).toString());
    } catch (CharacterCodingException e) {
      envelope.put("value_base64", Base64.getEncoder().encodeToString(value));
    }
    byte[] bytes = envelope.toBuffer().getBytes();
    sendDeadLetter(s, entry, record.key(), bytes, reason);
  }

  private void sendDeadLetter(PartitionState s, Entry entry, String key, byte[] bytes, String reason) {
    deadLetters.send(kafka.topics().deadLetter(), key, bytes)
        .timeout(kafka.deliveryTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .onComplete(ar -> {
          if (!s.current()) {
            return;
          }
          if (ar.succeeded()) {
            metrics.deadLettered(reasonTag(reason));
            LOG.warn("profile event at {}-{} offset {} sent to {}: {}", s.tp.getTopic(), s.tp.getPartition(),
                entry.offset, kafka.topics().deadLetter(), reason);
            done(s, entry);
          } else {
            retry(s, entry, () -> sendDeadLetter(s, entry, key, bytes, reason), "dead-letter", ar.cause());
          }
        });
  }

  /** A short, bounded tag for the dead-letter metric: "json", the member named by the message, or "schema". */
  static String reasonTag(String reason) {
    if (NOT_JSON.equals(reason)) {
      return "json";
    }
    int colon = reason.indexOf(':');
    String head = colon > 0 ? reason.substring(0, colon) : reason;
    return head.matches("[a-z_]{1,32}") ? head : "schema";
  }

  private void retry(PartitionState s, Entry entry, Runnable again, String what, Throwable cause) {
    metrics.applyRetried();
    if (!entry.failing) {
      entry.failing = true;
      s.retrying++;
      if (s.retrying == 1) {
        LOG.warn("updater: {} failed on {}-{} ({}); pausing the partition and retrying", what, s.tp.getTopic(),
            s.tp.getPartition(), cause.toString());
      }
    }
    pause(s);
    if (entry.backoff == null) {
      entry.backoff = new Backoff(FIRST_RETRY_MS, config.retryMaxDelay().toMillis());
    }
    vertx.setTimer(Math.max(1, entry.backoff.next()), id -> {
      if (s.current() && !stopping) {
        again.run();
      }
    });
  }

  private void done(PartitionState s, Entry entry) {
    entry.done = true;
    if (entry.failing) {
      s.retrying--;
    }
    while (!s.entries.isEmpty() && s.entries.peekFirst().done) {
      s.committable = s.entries.pollFirst().offset + 1;
    }
    if (s.paused && !stopping && s.retrying == 0 && s.entries.size() <= config.maxInFlight() / 2) {
      s.paused = false;
      metrics.partitionResumed();
      consumer.resume(s.tp);
      if (entry.failing) {
        LOG.info("updater: {}-{} applies again; partition resumed", s.tp.getTopic(), s.tp.getPartition());
      }
    }
  }

  private void pause(PartitionState s) {
    if (!s.paused) {
      s.paused = true;
      metrics.partitionPaused();
      if (!stopping) { // the consumer is closing or closed: see #stopping
        consumer.pause(s.tp);
      }
    }
  }

  private Future<Void> commit() {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (PartitionState s : partitions.values()) {
      if (s.committable > s.committed) {
        offsets.put(s.tp, new OffsetAndMetadata(s.committable, null));
      }
    }
    if (offsets.isEmpty()) {
      return Future.succeededFuture();
    }
    return consumer.commit(offsets).<Void>mapEmpty().onSuccess(v -> offsets.forEach((tp, o) -> {
      PartitionState s = partitions.get(tp);
      if (s != null) {
        s.committed = Math.max(s.committed, o.getOffset());
      }
    })).onFailure(err -> LOG.warn("updater offset commit failed (retried next round): {}", err.toString()));
  }

  /** A consumer failure, logged at most once per 10 s with the count since, so a failing loop cannot flood the log. */
  private void consumerFailed(Throwable err) {
    failuresSinceLog++;
    long now = System.nanoTime();
    if (lastFailureLog == 0 || now - lastFailureLog >= FAILURE_LOG_EVERY_NS) {
      LOG.warn("updater consumer: {} ({} failure(s) in the last 10 s)", err.toString(), failuresSinceLog);
      lastFailureLog = now;
      failuresSinceLog = 0;
    }
  }

  /**
   * Events of the owned partitions not yet applied: end offset minus the next offset to commit (or the first
   * offset received, before anything is applied). Asked through the client, which runs it on its own thread.
   */
  private void measureLag() {
    if (partitions.isEmpty()) {
      metrics.updaterLag(this, 0);
      return;
    }
    consumer.endOffsets(new HashSet<>(partitions.keySet())).onSuccess(ends -> {
      long lag = 0;
      for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
        PartitionState s = partitions.get(e.getKey());
        if (s == null) {
          continue;
        }
        long base = s.committable >= 0 ? s.committable : s.firstSeen;
        if (base >= 0) {
          lag += Math.max(0, e.getValue() - base);
        }
      }
      metrics.updaterLag(this, lag);
    });
  }

  /** Partitions this updater owns now (for tests and the log). */
  public Set<TopicPartition> assignment() {
    return new HashSet<>(partitions.keySet());
  }

  @Override
  public Future<?> stop() {
    stopping = true; // applies still in flight may finish after the consumer is closed: they must not resume it
    if (commitTimer != -1) {
      vertx.cancelTimer(commitTimer);
    }
    if (lagTimer != -1) {
      vertx.cancelTimer(lagTimer);
    }
    metrics.updaterLag(this, -1);
    if (consumer == null) {
      return link == null ? Future.succeededFuture() : link.close();
    }
    // Commit what is applied, then leave the group; what was in flight is replayed by the next owner. Both are
    // bounded: with the brokers unreachable the client would wait its own timeouts (60 s, 30 s) and hold the whole
    // shutdown; nothing is lost by giving up, since uncommitted events are replayed.
    return commit().timeout(STOP_STEP_MS, TimeUnit.MILLISECONDS).otherwiseEmpty()
        .compose(v -> consumer.close().timeout(STOP_STEP_MS, TimeUnit.MILLISECONDS)
            .recover(err -> {
              LOG.warn("updater consumer did not close within {} ms ({}); stopping without it", STOP_STEP_MS,
                  err.toString());
              return Future.succeededFuture();
            }))
        .eventually(() -> link.close());
  }
}
