package io.opentime.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.bootstrap.BootstrapDirectory;
import org.apache.kafka.metadata.bootstrap.BootstrapMetadata;
import org.apache.kafka.metadata.properties.MetaProperties;
import org.apache.kafka.metadata.properties.MetaPropertiesEnsemble;
import org.apache.kafka.metadata.properties.MetaPropertiesVersion;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Apache Kafka broker (the {@code kafka_2.13} jars, same version as the {@code kafka-clients} that
 * vertx-kafka-client uses) running inside this JVM, for {@code serve --demo} and for the tests. <strong>Never for
 * production</strong>: one node, no replication, no security, data in a temporary directory.
 *
 * <p>One KRaft node in combined mode ({@code process.roles=broker,controller}), PLAINTEXT on 127.0.0.1 only, a
 * broker port and a controller port, sized for a small machine (few threads, one partition per internal topic,
 * replication factor 1). {@link #start(int)} formats the storage itself (what {@code kafka-storage format} does) and
 * returns once an Admin client sees the broker. {@link #stop()} takes the broker down and keeps its data;
 * {@link #restart()} brings it back on the same ports and directory, so tests can check what happens while Kafka
 * is down. {@link #close()} stops it and deletes the directory; a JVM shutdown hook does the same.
 *
 * <p>The broker must never end the JVM it is embedded in: the first instance replaces Kafka's {@link Exit}
 * procedures (which a fatal broker fault calls to halt the process) with ones that log and throw. Only the demo
 * and the tests load this class.
 *
 * <p>Blocking: every method waits for the broker (seconds); call them from a main or test thread, never an event
 * loop.
 */
public final class EmbeddedKafka implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration ADMIN_CALL_TIMEOUT = Duration.ofSeconds(30);
  private static final String HOST = "127.0.0.1";
  private static final int NODE_ID = 1;
  private static final AtomicInteger ADMINS = new AtomicInteger();

  static {
    Exit.Procedure refuse = (status, message) -> {
      String text = "embedded Kafka asked to end the JVM (status " + status + "): " + message;
      LOG.error("{}; refused, the broker is probably unusable now", text);
      throw new IllegalStateException(text);
    };
    Exit.setExitProcedure(refuse);
    Exit.setHaltProcedure(refuse);
  }

  private final Path directory;
  private final Path dataDirectory;
  private final int port;
  private final int controllerPort;
  private final KafkaConfig config;
  private final Thread shutdownHook;
  private KafkaRaftServer server;
  private boolean closed;

  private EmbeddedKafka(Path directory, int port, int controllerPort) {
    this.directory = directory;
    this.dataDirectory = directory.resolve("data");
    this.port = port;
    this.controllerPort = controllerPort;
    this.config = new KafkaConfig(brokerProperties(), false);
    this.shutdownHook = new Thread(this::closeQuietly, "embedded-kafka-stop-" + port);
  }

  /**
   * Formats a new storage directory and starts a broker on the given port (0 picks a free one; the controller
   * port is always picked), then waits until an Admin client can describe the cluster.
   *
   * @throws IOException if a port is taken, the directory cannot be written, or the broker is not ready within
   *     60 s (the broker is then stopped and its directory deleted)
   */
  public static EmbeddedKafka start(int port) throws IOException {
    int brokerPort = port == 0 ? freePort() : port;
    int controllerPort = freePort();
    while (controllerPort == brokerPort) {
      controllerPort = freePort();
    }
    Path directory = Files.createTempDirectory("opentime-kafka-");
    EmbeddedKafka kafka = null;
    boolean started = false;
    try {
      kafka = new EmbeddedKafka(directory, brokerPort, controllerPort);
      kafka.format();
      Runtime.getRuntime().addShutdownHook(kafka.shutdownHook);
      kafka.launch();
      started = true;
      return kafka;
    } finally {
      if (!started) {
        if (kafka != null) {
          kafka.closeQuietly();
        } else {
          deleteRecursively(directory);
        }
      }
    }
  }

  /** {@code 127.0.0.1:port}, for the clients' {@code bootstrap.servers}. */
  public String bootstrapServers() {
    return HOST + ":" + port;
  }

  public int port() {
    return port;
  }

  public int controllerPort() {
    return controllerPort;
  }

  /** The private directory holding the broker's data; deleted by {@link #close()}. */
  public Path directory() {
    return directory;
  }

  /** True between a successful start (or restart) and the next stop. */
  public synchronized boolean running() {
    return server != null;
  }

  /**
   * Creates the topics (replication factor 1) and waits until each has a leader for every partition. A topic that
   * already exists is left as it is, whatever its number of partitions.
   */
  public void createTopics(int partitions, String... names) {
    if (partitions < 1) {
      throw new IllegalArgumentException("partitions must be at least 1: " + partitions);
    }
    List<NewTopic> topics = Arrays.stream(names).map(n -> new NewTopic(n, partitions, (short) 1)).toList();
    try (Admin admin = admin()) {
      for (Map.Entry<String, KafkaFuture<Void>> created : admin.createTopics(topics).values().entrySet()) {
        try {
          created.getValue().get(ADMIN_CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("cannot create topic " + created.getKey() + ": " + e.getCause(), e);
          }
        }
      }
      awaitLeaders(admin, Arrays.asList(names));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics " + Arrays.toString(names), e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("topics " + Arrays.toString(names) + " not created within "
          + ADMIN_CALL_TIMEOUT.toSeconds() + " s", e);
    }
  }

  /** Takes the broker down (clients then fail to connect); its data stays for {@link #restart()}. */
  public synchronized void stop() {
    KafkaRaftServer running = server;
    if (running == null) {
      return;
    }
    server = null;
    long t0 = System.nanoTime();
    try {
      running.shutdown();
      running.awaitShutdown();
    } finally {
      LOG.info("embedded Kafka on {} stopped in {} ms", bootstrapServers(), elapsedMs(t0));
    }
  }

  /**
   * Starts the broker again after {@link #stop()}, on the same ports and directory, and waits until it is ready.
   *
   * @throws IOException if a port was taken meanwhile or the broker is not ready within 60 s
   */
  public synchronized void restart() throws IOException {
    if (closed) {
      throw new IllegalStateException("embedded Kafka on " + bootstrapServers() + " is closed");
    }
    if (server != null) {
      throw new IllegalStateException("embedded Kafka on " + bootstrapServers() + " is still running");
    }
    launch();
  }

  /** Stops the broker and deletes its directory. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      stop();
    } finally {
      deleteRecursively(directory);
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException jvmExiting) {
        // called from the hook itself, or while the JVM exits
      }
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (RuntimeException e) {
      LOG.warn("embedded Kafka on {}: error while stopping: {}", bootstrapServers(), e.toString());
    }
  }

  private synchronized void launch() throws IOException {
    requireFree(port, "broker");
    requireFree(controllerPort, "controller");
    long t0 = System.nanoTime();
    long deadline = t0 + START_TIMEOUT.toNanos();
    KafkaRaftServer starting = new KafkaRaftServer(config, Time.SYSTEM);
    try {
      starting.startup();
      awaitReady(deadline);
    } catch (IOException | RuntimeException e) {
      shutdownAfterFailure(starting);
      throw new IOException("embedded Kafka did not start on " + bootstrapServers() + " (controller port "
          + controllerPort + ", directory " + directory + "): " + e.getMessage(), e);
    } catch (Error e) {
      shutdownAfterFailure(starting);
      throw e;
    }
    server = starting;
    LOG.info("embedded Kafka ready on {} in {} ms", bootstrapServers(), elapsedMs(t0));
  }

  private static void shutdownAfterFailure(KafkaRaftServer failed) {
    try {
      failed.shutdown();
      failed.awaitShutdown();
    } catch (RuntimeException e) {
      LOG.debug("embedded Kafka: error while shutting down after a failed start", e);
    }
  }

  /** Waits until the broker answers an Admin client and lists itself as a live broker. */
  private void awaitReady(long deadline) throws IOException {
    try (Admin admin = admin()) {
      Exception last = null;
      while (System.nanoTime() < deadline) {
        long remainingMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        try {
          if (!admin.describeCluster().nodes().get(Math.min(remainingMs, 5_000), TimeUnit.MILLISECONDS).isEmpty()) {
            return;
          }
        } catch (ExecutionException | TimeoutException e) {
          last = e;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while waiting for the broker", e);
        }
        sleep(100);
      }
      throw new IOException("no answer to describeCluster within " + START_TIMEOUT.toSeconds() + " s"
          + (last == null ? "" : " (last error: " + last + ")"));
    }
  }

  private void awaitLeaders(Admin admin, Collection<String> names) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + ADMIN_CALL_TIMEOUT.toNanos();
    while (true) {
      try {
        Map<String, TopicDescription> topics = admin.describeTopics(names).allTopicNames()
            .get(ADMIN_CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        boolean ready = topics.values().stream()
            .allMatch(t -> t.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
        if (ready) {
          return;
        }
      } catch (ExecutionException notYetVisible) {
        // UnknownTopicOrPartitionException until the broker has the new metadata
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("no leader for all partitions of " + names);
      }
      sleep(50);
    }
  }

  private Admin admin() {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    // unique: two clients with one id in a JVM make Kafka warn that it cannot register their MBean
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "embedded-kafka-admin-" + ADMINS.incrementAndGet());
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    return Admin.create(props);
  }

  /** Writes meta.properties and the bootstrap metadata checkpoint, as {@code kafka-storage format} does. */
  private void format() throws IOException {
    String dir = dataDirectory.toString();
    MetaProperties metaProperties = new MetaProperties.Builder()
        .setVersion(MetaPropertiesVersion.V1)
        .setClusterId(Uuid.randomUuid().toString())
        .setNodeId(NODE_ID)
        .build();
    BootstrapMetadata bootstrap = BootstrapMetadata.fromVersion(MetadataVersion.LATEST_PRODUCTION,
        "opentime embedded Kafka");
    MetaPropertiesEnsemble.Copier copier = new MetaPropertiesEnsemble.Copier(
        new MetaPropertiesEnsemble.Loader().addLogDir(dir).load());
    copier.setLogDirProps(dir, new MetaProperties.Builder(metaProperties)
        .setDirectoryId(copier.generateValidDirectoryId())
        .build());
    copier.setPreWriteHandler((logDir, isNew, props) -> {
      Files.createDirectories(Path.of(logDir));
      new BootstrapDirectory(logDir, Optional.empty()).writeBinaryFile(bootstrap);
    });
    copier.setWriteErrorHandler((logDir, e) -> {
      throw new IOException("cannot format " + logDir + ": " + e.getMessage(), e);
    });
    copier.writeLogDirChanges();
  }

  private Map<String, String> brokerProperties() {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("process.roles", "broker,controller");
    p.put("node.id", Integer.toString(NODE_ID));
    p.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
    p.put("listeners", "PLAINTEXT://" + HOST + ":" + port + ",CONTROLLER://" + HOST + ":" + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + port);
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("log.dirs", dataDirectory.toString());
    // bounded start-up: the broker gives up instead of waiting forever for the controller
    p.put("server.max.startup.time.ms", Long.toString(START_TIMEOUT.toMillis()));
    // one node: nothing to replicate
    p.put("num.partitions", "1");
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "1");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "1");
    p.put("group.initial.rebalance.delay.ms", "0");
    p.put("auto.create.topics.enable", "false");
    // a 2-core machine shared with the gateway and the tests
    p.put("num.network.threads", "1");
    p.put("num.io.threads", "2");
    p.put("background.threads", "2");
    p.put("num.recovery.threads.per.data.dir", "1");
    p.put("num.replica.fetchers", "1");
    p.put("log.cleaner.threads", "1");
    p.put("log.cleaner.dedupe.buffer.size", Integer.toString(2 * 1024 * 1024));
    p.put("log.segment.bytes", Integer.toString(16 * 1024 * 1024));
    p.put("log.index.size.max.bytes", Integer.toString(1024 * 1024));
    p.put("offsets.topic.segment.bytes", Integer.toString(16 * 1024 * 1024));
    p.put("transaction.state.log.segment.bytes", Integer.toString(16 * 1024 * 1024));
    return p;
  }

  private void requireFree(int p, String what) throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getByName(HOST), p));
    } catch (IOException e) {
      throw new IOException("embedded Kafka cannot use " + what + " port " + HOST + ":" + p + ": it is in use ("
          + e.getMessage() + ")", e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(HOST))) {
      return s.getLocalPort();
    }
  }

  private static long elapsedMs(long t0) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * Deletes deepest paths first. No anonymous class here: this also runs from the shutdown hook, possibly after a
   * rebuild replaced the jar or the classes directory (a class not loaded yet would then be missing).
   */
  private static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("embedded Kafka: cannot delete {}: {}", root, e.toString());
    }
  }

  @Override
  public String toString() {
    return "EmbeddedKafka[" + bootstrapServers() + ", controller " + HOST + ":" + controllerPort + ", "
        + directory + "]";
  }
}
