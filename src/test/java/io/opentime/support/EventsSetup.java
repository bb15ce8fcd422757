package io.opentime.support;

import io.opentime.config.GatewayConfig;
import io.opentime.config.KafkaConfig;
import io.opentime.config.UpdaterConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Gateway configurations wired to a real Kafka broker with topics, consumer group and invalidation channel of their
 * own (so tests never see each other's events), and small blocking Kafka helpers for the test thread.
 */
public final class EventsSetup {

  private static final AtomicInteger RUNS = new AtomicInteger();
  public static final String WEBHOOK_KEY_SPEC = "w1:" + java.util.Base64.getEncoder().encodeToString(
      "webhook-test-secret-32-bytes-long!!".getBytes(java.nio.charset.StandardCharsets.US_ASCII));

  private EventsSetup() {
  }

  /** The shipped config on the given Redis and Kafka, with fresh topics (profile events: 3 partitions). */
  public static GatewayConfig config(String redisUrl, String bootstrap, Map<String, String> extraEnv) {
    String run = "t" + RUNS.incrementAndGet();
    String profileEvents = TestKafka.topic(run + "-profile-events", 3);
    String opens = TestKafka.topic(run + "-opens");
    String clicks = TestKafka.topic(run + "-clicks");
    String dlq = TestKafka.topic(run + "-dlq");
    return config(redisUrl, bootstrap, extraEnv, new KafkaConfig.Topics(profileEvents, opens, clicks, dlq), run);
  }

  /** As above with given topics and a group/channel suffix (several gateways of one deployment share them). */
  public static GatewayConfig config(String redisUrl, String bootstrap, Map<String, String> extraEnv,
                                     KafkaConfig.Topics topics, String run) {
    Map<String, String> env = new HashMap<>();
    env.put("OPENTIME_KAFKA_BOOTSTRAP_SERVERS", bootstrap);
    env.put("OPENTIME_UPDATER_GROUP_ID", "updater-" + run);
    env.put("OPENTIME_WEBHOOK_KEYS", WEBHOOK_KEY_SPEC);
    // These tests are about events, not the read deadline: a CPU-starved CI machine must not turn reads into defaults.
    env.put("OPENTIME_REDIS_DEADLINE", "500ms");
    env.putAll(extraEnv);
    GatewayConfig base = TestConfig.forRedis(redisUrl, env);
    UpdaterConfig u = base.events().updater();
    UpdaterConfig updater = new UpdaterConfig(u.enabled(), u.instances(), u.groupId(), u.maxInFlight(), u.applyDeadline(),
        Duration.ofMillis(500), "opentime:invalidate:" + run);
    return base.withEvents(base.events().withKafka(base.events().kafka().withTopics(topics)).withUpdater(updater));
  }

  /** Reads a topic from the beginning until {@code count} records arrived or {@code timeout} passed. */
  public static List<ConsumerRecord<String, String>> read(String bootstrap, String topic, int count, Duration timeout) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo info : c.partitionsFor(topic, Duration.ofSeconds(10))) {
        tps.add(new TopicPartition(topic, info.partition()));
      }
      c.assign(tps);
      c.seekToBeginning(tps);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (out.size() < count && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(100)).forEach(out::add);
      }
    }
    return out;
  }

  /** A producer for the test thread (acks=all). Close it. */
  public static KafkaProducer<String, String> producer(String bootstrap) {
    Map<String, Object> p = new HashMap<>();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, 1);
    return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
  }

  /** Sends and waits for every acknowledgement. */
  public static void produce(KafkaProducer<String, String> producer, String topic, List<String[]> keyValues) {
    List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
    for (String[] kv : keyValues) {
      acks.add(producer.send(new ProducerRecord<>(topic, kv[0], kv[1])));
    }
    for (var f : acks) {
      try {
        f.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("test produce failed", e);
      }
    }
  }
}
