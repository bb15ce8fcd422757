package io.opentime.support;

import io.opentime.demo.EmbeddedKafka;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Kafka broker shared by the whole test run (started on first use, on a free port, stopped when the JVM
 * exits). A broker takes seconds to start on 2 cores: share this one and give each test its own topics with
 * {@link #topic(String, int)}. Tests that stop or restart Kafka start their own {@link EmbeddedKafka} instead.
 */
public final class TestKafka {

  private static final AtomicInteger TOPICS = new AtomicInteger();
  private static EmbeddedKafka shared;

  private TestKafka() {
  }

  public static synchronized EmbeddedKafka shared() {
    if (shared == null) {
      try {
        shared = EmbeddedKafka.start(0);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot start the test Kafka", e);
      }
      // EmbeddedKafka registers its own shutdown hook: it stops and deletes its directory when the JVM exits
    }
    return shared;
  }

  public static String bootstrapServers() {
    return shared().bootstrapServers();
  }

  /** A new topic with one partition on the shared broker, named {@code base-N}; no two calls share a topic. */
  public static String topic(String base) {
    return topic(base, 1);
  }

  /** A new topic with the given number of partitions on the shared broker, named {@code base-N}. */
  public static String topic(String base, int partitions) {
    String name = base + "-" + TOPICS.incrementAndGet();
    shared().createTopics(partitions, name);
    return name;
  }
}
