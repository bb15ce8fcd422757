package io.opentime.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.opentime.support.TestKafka;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import io.vertx.kafka.client.producer.RecordMetadata;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded KRaft broker with the Vert.x Kafka client: keyed records round-trip through a 3-partition topic,
 * sends fail within their bounds while the broker is down, and the data survives a restart.
 */
@ExtendWith(VertxExtension.class)
class EmbeddedKafkaTest {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaTest.class);
  private static final int KEYS = 10;
  private static final int RECORDS = 30;

  EmbeddedKafka kafka;
  final List<KafkaProducer<String, String>> producers = new ArrayList<>();
  final List<KafkaConsumer<String, String>> consumers = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (KafkaConsumer<String, String> c : consumers) {
      await(c.close(), 10);
    }
    for (KafkaProducer<String, String> p : producers) {
      await(p.close(1_000), 10);
    }
    if (kafka != null) {
      kafka.close();
      assertThat(kafka.directory()).as("broker directory after close").doesNotExist();
    }
  }

  @Test
  void roundTripThenDownThenRestartKeepsTheData(Vertx vertx) throws Exception {
    long t0 = System.nanoTime();
    kafka = EmbeddedKafka.start(0);
    long startMs = elapsedMs(t0);
    LOG.info("broker start: {} ms", startMs);
    assertThat(kafka.running()).isTrue();
    assertThat(kafka.bootstrapServers()).isEqualTo("127.0.0.1:" + kafka.port());
    assertThat(kafka.controllerPort()).isNotEqualTo(kafka.port());

    String topic = "events";
    kafka.createTopics(3, topic);
    kafka.createTopics(3, topic); // idempotent
    assertThat(partitionCount(topic)).isEqualTo(3);

    KafkaProducer<String, String> producer = producer(vertx);
    Map<String, Integer> partitionOfKey = new HashMap<>();
    for (int i = 0; i < RECORDS; i++) {
      String key = "reader-" + (i % KEYS);
      RecordMetadata md = await(producer.send(KafkaProducerRecord.create(topic, key, "open-" + i)), 10);
      Integer earlier = partitionOfKey.putIfAbsent(key, md.getPartition());
      assertThat(earlier == null || earlier == md.getPartition()).as("one partition per key").isTrue();
    }
    assertThat(Set.copyOf(partitionOfKey.values())).as("partitions used by %s keys", KEYS).hasSizeGreaterThan(1);

    List<KafkaConsumerRecord<String, String>> first = consume(vertx, topic, RECORDS);
    assertThat(values(first)).containsExactlyInAnyOrderElementsOf(expectedValues(0, RECORDS));
    for (KafkaConsumerRecord<String, String> r : first) {
      assertThat(r.partition()).as("partition of %s", r.key()).isEqualTo(partitionOfKey.get(r.key()));
    }
    assertThat(first.stream().filter(r -> r.key().equals("reader-3")).map(KafkaConsumerRecord::value))
        .as("order within a key").containsExactly("open-3", "open-13", "open-23");

    // Broker down: a producer that knows the topic expires its batch after delivery.timeout.ms, a new one gives up
    // waiting for metadata after max.block.ms. Neither hangs.
    t0 = System.nanoTime();
    kafka.stop();
    long stopMs = elapsedMs(t0);
    assertThat(kafka.running()).isFalse();
    t0 = System.nanoTime();
    Throwable expired = catchThrowable(() -> await(producer.send(KafkaProducerRecord.create(topic, "reader-1",
        "lost")), 15));
    assertThat(chain(expired)).as("send while the broker is down: %s", expired)
        .hasAtLeastOneElementOfType(org.apache.kafka.common.errors.TimeoutException.class);
    long expiredMs = elapsedMs(t0);
    assertThat(expiredMs).as("failed delivery (ms)").isBetween(1_500L, 8_000L);
    KafkaProducer<String, String> fresh = producer(vertx);
    t0 = System.nanoTime();
    Throwable blocked = catchThrowable(() -> await(fresh.send(KafkaProducerRecord.create(topic, "reader-1",
        "lost")), 15));
    assertThat(chain(blocked)).as("first send of a new producer while the broker is down: %s", blocked)
        .hasAtLeastOneElementOfType(org.apache.kafka.common.errors.TimeoutException.class);
    long blockedMs = elapsedMs(t0);
    assertThat(blockedMs).as("no metadata (ms)").isBetween(500L, 8_000L);

    t0 = System.nanoTime();
    kafka.restart();
    long restartMs = elapsedMs(t0);
    assertThat(kafka.running()).isTrue();
    for (int i = RECORDS; i < RECORDS + 5; i++) {
      await(producer.send(KafkaProducerRecord.create(topic, "reader-" + (i % KEYS), "open-" + i)), 15);
    }
    List<KafkaConsumerRecord<String, String>> all = consume(vertx, topic, RECORDS + 5);
    assertThat(values(all)).as("records before and after the restart, none of the lost ones")
        .containsExactlyInAnyOrderElementsOf(expectedValues(0, RECORDS + 5));
    LOG.info("broker start {} ms, stop {} ms, restart {} ms; failed send {} ms (delivery timeout), {} ms (metadata)",
        startMs, stopMs, restartMs, expiredMs, blockedMs);
  }

  @Test
  void aTakenPortIsAClearErrorNotAHang() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> EmbeddedKafka.start(taken.getLocalPort()))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("port 127.0.0.1:" + taken.getLocalPort())
          .hasMessageContaining("in use");
      assertThat(elapsedMs(t0)).isLessThan(5_000);
    }
  }

  @Test
  void sharedBrokerGivesEachTestItsOwnTopics() throws Exception {
    String a = TestKafka.topic("clicks", 2);
    String b = TestKafka.topic("clicks", 2);
    String c = TestKafka.topic("opens");
    assertThat(Set.of(a, b, c)).hasSize(3);
    assertThat(a).startsWith("clicks-");
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
      Map<String, Integer> partitions = admin.describeTopics(List.of(a, b, c)).allTopicNames()
          .get(10, TimeUnit.SECONDS).values().stream()
          .collect(Collectors.toMap(t -> t.name(), t -> t.partitions().size()));
      assertThat(partitions).containsEntry(a, 2).containsEntry(b, 2).containsEntry(c, 1);
    }
    assertThat(Files.isDirectory(TestKafka.shared().directory())).isTrue();
  }

  private KafkaProducer<String, String> producer(Vertx vertx) {
    Map<String, String> config = new HashMap<>();
    config.put("bootstrap.servers", kafka.bootstrapServers());
    config.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
    config.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
    config.put("acks", "all");
    config.put("enable.idempotence", "true");
    config.put("linger.ms", "0");
    config.put("max.block.ms", "1000");
    config.put("request.timeout.ms", "1000");
    config.put("delivery.timeout.ms", "2000");
    config.put("reconnect.backoff.max.ms", "200");
    KafkaProducer<String, String> p = KafkaProducer.create(vertx, config);
    // a failed send fails its future; without a handler Vert.x also logs it as unhandled
    p.exceptionHandler(e -> LOG.debug("producer: {}", e.toString()));
    producers.add(p);
    return p;
  }

  /** A new consumer group reading the topic from the beginning until it has {@code count} records. */
  private List<KafkaConsumerRecord<String, String>> consume(Vertx vertx, String topic, int count)
      throws Exception {
    Map<String, String> config = new HashMap<>();
    config.put("bootstrap.servers", kafka.bootstrapServers());
    config.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    config.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    config.put("group.id", "test-" + System.nanoTime());
    config.put("auto.offset.reset", "earliest");
    config.put("enable.auto.commit", "false");
    KafkaConsumer<String, String> consumer = KafkaConsumer.create(vertx, config);
    consumers.add(consumer);
    Queue<KafkaConsumerRecord<String, String>> received = new ConcurrentLinkedQueue<>();
    consumer.handler(received::add);
    await(consumer.subscribe(topic), 10);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (received.size() < count && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(received).as("records consumed from %s", topic).hasSize(count);
    await(consumer.close(), 10);
    consumers.remove(consumer);
    return List.copyOf(received);
  }

  private int partitionCount(String topic) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      return admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic)
          .partitions().size();
    }
  }

  private static List<String> values(List<KafkaConsumerRecord<String, String>> records) {
    return records.stream().map(KafkaConsumerRecord::value).toList();
  }

  private static List<String> expectedValues(int from, int to) {
    List<String> out = new ArrayList<>();
    for (int i = from; i < to; i++) {
      out.add("open-" + i);
    }
    return out;
  }

  private static <T> T await(Future<T> future, int seconds) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception ex ? ex : e;
    } catch (TimeoutException e) {
      throw new AssertionError("no answer within " + seconds + " s", e);
    }
  }

  private static long elapsedMs(long t0) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  /** The throwable and its causes. */
  private static List<Throwable> chain(Throwable t) {
    List<Throwable> out = new ArrayList<>();
    for (Throwable c = t; c != null && !out.contains(c); c = c.getCause()) {
      out.add(c);
    }
    return out;
  }
}
