package io.opentime.support;

import io.opentime.demo.EmbeddedRedis;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * A real Redis Sentinel setup on loopback for integration tests: one master, two replicas and three sentinels (quorum
 * 2), each a {@code redis-server} process ({@link EmbeddedRedis}) on a free port. The sentinels judge a master down
 * after 1000 ms without an answer ({@code down-after-milliseconds}), so a failover usually completes within a few
 * seconds; a failover attempt that fails (e.g. a split vote) is retried after twice {@code failover-timeout}, 10 s.
 *
 * <p>Config files (sentinels rewrite theirs), logs and replication files live in one temp directory, deleted by
 * {@link #close()}. Blocking: call from a test thread, never an event loop.
 */
public final class LocalSentinel implements AutoCloseable {

  /** Bound on {@link #start(String)} reaching a ready setup once every process has started. */
  public static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
  /** {@code down-after-milliseconds}: how long a server is unanswering before a sentinel judges it down. */
  public static final int DOWN_AFTER_MS = 1000;
  /** {@code failover-timeout}: a failover attempt that has not completed is retried after twice this. */
  public static final int FAILOVER_TIMEOUT_MS = 5000;
  private static final int REPLICAS = 2;
  private static final int SENTINELS = 3;
  private static final int QUORUM = 2;

  private final String masterName;
  private final Path dir;
  /** The first master, then its replicas: the roles at start. */
  private final List<EmbeddedRedis> servers = new ArrayList<>();
  private final List<EmbeddedRedis> sentinels = new ArrayList<>();
  private final List<Path> serverLogs = new ArrayList<>();
  private final List<Path> sentinelLogs = new ArrayList<>();

  private LocalSentinel(String masterName, Path dir) {
    this.masterName = masterName;
    this.dir = dir;
  }

  /**
   * Starts a master, two replicas of it and three sentinels monitoring it as {@code masterName}. Waits, at most
   * {@link #READY_TIMEOUT} in all, until both replicas are in sync (the master lists both {@code online}, each
   * reports {@code master_link_status:up}), then until every sentinel reports the master up at 127.0.0.1 with both
   * replicas up and the two other sentinels known. If anything fails, whatever was started is stopped before this
   * throws.
   *
   * @param masterName letters, digits, dot, underscore or dash: the name clients ask the sentinels for
   * @throws IOException if a process does not start
   * @throws TimeoutException if the setup is not ready in time; the message says what was last missing and ends with
   *     the tail of each process's log
   */
  public static LocalSentinel start(String masterName) throws IOException, InterruptedException, TimeoutException {
    if (!masterName.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException("master name must be letters, digits, '.', '_' or '-': " + masterName);
    }
    LocalSentinel setup = new LocalSentinel(masterName, Files.createTempDirectory("opentime-redis-sentinel-"));
    try {
      setup.startAll();
      return setup;
    } catch (Throwable t) {
      try {
        setup.close();
      } catch (RuntimeException e) {
        t.addSuppressed(e);
      }
      throw t;
    }
  }

  /** {@code redis://127.0.0.1:<port>} of every sentinel. */
  public List<String> sentinelUrls() {
    return sentinels.stream().map(EmbeddedRedis::url).toList();
  }

  /** {@link #sentinelUrls()} joined with commas. */
  public String sentinelList() {
    return String.join(",", sentinelUrls());
  }

  /** The name the sentinels monitor the master under. */
  public String masterName() {
    return masterName;
  }

  /**
   * The current master, as {@code SENTINEL GET-MASTER-ADDR-BY-NAME} on the first running sentinel that answers says.
   * During a failover sentinels may still name the old master: see {@link #awaitNewMaster(EmbeddedRedis, Duration)}.
   *
   * @throws IllegalStateException if no sentinel answers, or the one that does names a server not of this setup
   */
  public EmbeddedRedis master() {
    Exception last = null;
    for (EmbeddedRedis sentinel : sentinels) {
      if (!sentinel.alive()) {
        continue;
      }
      try {
        return serverByPort(masterPort(sentinel));
      } catch (IOException | Resp.ErrorReply e) {
        last = e;
      }
    }
    throw new IllegalStateException("no sentinel named the master " + masterName, last);
  }

  /** Kills the current master ({@link #master()}) with SIGKILL, as a crash would, and returns it. */
  public EmbeddedRedis killMaster() {
    EmbeddedRedis master = master();
    master.kill();
    return master;
  }

  /**
   * Waits, at most {@code max}, until every running sentinel names the same master and not {@code old}, and that
   * server answers ROLE as a master.
   *
   * @throws TimeoutException if that is not so in time; the message says what was last missing and ends with the tail
   *     of each process's log
   */
  public void awaitNewMaster(EmbeddedRedis old, Duration max) throws InterruptedException, TimeoutException {
    await("a master other than " + old.port(), max, () -> {
      Integer named = null;
      for (EmbeddedRedis sentinel : sentinels) {
        if (!sentinel.alive()) {
          continue;
        }
        int port = masterPort(sentinel);
        if (port == old.port()) {
          return "sentinel " + sentinel.port() + " still names " + port;
        }
        if (named != null && named != port) {
          return "sentinels name " + named + " and " + port;
        }
        named = port;
      }
      if (named == null) {
        return "no sentinel running";
      }
      Object role = ((List<?>) Resp.command(named, "ROLE")).get(0);
      return "master".equals(role) ? null : "server " + named + " answers ROLE " + role;
    });
  }

  /**
   * Stops every sentinel, then every server (SIGTERM, then SIGKILL after 5 s), and deletes the temp directory. Safe to
   * call twice and on a half-started setup.
   */
  @Override
  public void close() {
    RuntimeException failure = null;
    List<EmbeddedRedis> all = new ArrayList<>(sentinels); // first, so that they start no failover as servers stop
    all.addAll(servers);
    for (EmbeddedRedis process : all) {
      try {
        process.close();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    FixtureWaits.deleteTree(dir);
    if (failure != null) {
      throw failure;
    }
  }

  private void startAll() throws IOException, InterruptedException, TimeoutException {
    long deadlineNanos = System.nanoTime() + READY_TIMEOUT.toNanos();
    EmbeddedRedis master = startServer(List.of());
    for (int i = 0; i < REPLICAS; i++) {
      startServer(List.of("--replicaof", "127.0.0.1", Integer.toString(master.port())));
    }
    // Sentinels learn the replicas from the master's INFO, which they ask for at once on connecting and then only
    // every 10 s: the replicas must be listed before the sentinels start.
    await("replicas in sync", FixtureWaits.remaining(deadlineNanos), () -> {
      String info = (String) Resp.command(master.port(), "INFO", "replication");
      for (int i = 0; i < REPLICAS; i++) {
        String replica = Resp.infoField(info, "slave" + i);
        if (replica == null || !replica.contains("state=online")) {
          return "master " + master.port() + ": slave" + i + ":" + replica;
        }
      }
      for (EmbeddedRedis replica : servers.subList(1, servers.size())) {
        String link = Resp.infoField(Resp.command(replica.port(), "INFO", "replication"), "master_link_status");
        if (!"up".equals(link)) {
          return "replica " + replica.port() + ": master_link_status:" + link;
        }
      }
      return null;
    });
    for (int i = 0; i < SENTINELS; i++) {
      startSentinel(master.port());
    }
    await("sentinels ready", FixtureWaits.remaining(deadlineNanos), () -> {
      for (EmbeddedRedis sentinel : sentinels) {
        Map<String, Object> m = Resp.pairs(Resp.command(sentinel.port(), "SENTINEL", "MASTER", masterName));
        String seen = "sentinel " + sentinel.port() + ": " + masterName + " ";
        if (!"master".equals(m.get("flags")) || !"127.0.0.1".equals(m.get("ip"))
            || !Integer.toString(master.port()).equals(m.get("port"))) {
          return seen + m.get("ip") + ":" + m.get("port") + " flags " + m.get("flags");
        }
        if (!Integer.toString(REPLICAS).equals(m.get("num-slaves"))) {
          return seen + "num-slaves " + m.get("num-slaves");
        }
        if (!Integer.toString(SENTINELS - 1).equals(m.get("num-other-sentinels"))) {
          return seen + "num-other-sentinels " + m.get("num-other-sentinels");
        }
        for (Object r : (List<?>) Resp.command(sentinel.port(), "SENTINEL", "REPLICAS", masterName)) {
          Map<String, Object> replica = Resp.pairs(r);
          if (!"slave".equals(replica.get("flags")) || !"ok".equals(replica.get("master-link-status"))) {
            return seen + "replica " + replica.get("port") + " flags " + replica.get("flags") + " master-link-status "
                + replica.get("master-link-status");
          }
        }
      }
      return null;
    });
  }

  private EmbeddedRedis startServer(List<String> replicaOf) throws IOException {
    int port = EmbeddedRedis.freePort();
    Path log = dir.resolve("redis-" + port + ".log");
    List<String> args = new ArrayList<>(List.of(
        "--dir", dir.toString(), // where a replica writes the RDB of a full sync: never the JVM's working directory
        "--dbfilename", "dump-" + port + ".rdb",
        "--logfile", log.toString(),
        "--loglevel", "notice",
        "--repl-diskless-sync", "yes",
        "--repl-diskless-sync-delay", "0")); // 6.2 waits 5 s by default before streaming to a new replica
    args.addAll(replicaOf);
    try {
      servers.add(EmbeddedRedis.start(port, args));
    } catch (IOException e) {
      throw new IOException(e.getMessage() + "; log: " + FixtureWaits.tail(log), e);
    }
    serverLogs.add(log);
    return servers.get(servers.size() - 1);
  }

  private void startSentinel(int masterPort) throws IOException {
    int port = EmbeddedRedis.freePort();
    Path config = dir.resolve("sentinel-" + port + ".conf");
    Path log = dir.resolve("sentinel-" + port + ".log");
    // 127.0.0.1 is an address, so 6.2 needs no "sentinel resolve-hostnames"; each sentinel is announced to the
    // others with the address the master sees it connect from, 127.0.0.1.
    Files.writeString(config, String.join("\n",
        "dir \"" + dir + "\"",
        "logfile \"" + log + "\"",
        "loglevel notice",
        "sentinel monitor " + masterName + " 127.0.0.1 " + masterPort + " " + QUORUM,
        "sentinel down-after-milliseconds " + masterName + " " + DOWN_AFTER_MS,
        "sentinel failover-timeout " + masterName + " " + FAILOVER_TIMEOUT_MS,
        "sentinel parallel-syncs " + masterName + " 1",
        ""), StandardCharsets.UTF_8);
    try {
      sentinels.add(EmbeddedRedis.startSentinel(port, config));
    } catch (IOException e) {
      throw new IOException(e.getMessage() + "; log: " + FixtureWaits.tail(log), e);
    }
    sentinelLogs.add(log);
  }

  private int masterPort(EmbeddedRedis sentinel) throws IOException {
    Object addr = Resp.command(sentinel.port(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName);
    if (!(addr instanceof List<?> hostPort) || hostPort.size() != 2) {
      throw new IOException("sentinel " + sentinel.port() + " answered GET-MASTER-ADDR-BY-NAME " + masterName + " with "
          + addr);
    }
    return Integer.parseInt((String) hostPort.get(1));
  }

  private EmbeddedRedis serverByPort(int port) {
    return servers.stream().filter(s -> s.port() == port).findFirst()
        .orElseThrow(() -> new IllegalStateException("port " + port + " is not a server of this setup"));
  }

  private void await(String what, Duration max, FixtureWaits.Probe probe)
      throws InterruptedException, TimeoutException {
    FixtureWaits.await(what, max, probe, this::logTails);
  }


  private String logTails() {
    StringBuilder s = new StringBuilder("last log lines of each process:");
    for (int i = 0; i < serverLogs.size(); i++) {
      EmbeddedRedis server = servers.get(i);
      s.append("\n  ").append(i == 0 ? "master at start " : "replica at start ").append(server.port())
          .append(server.alive() ? " (running): " : " (not running): ").append(FixtureWaits.tail(serverLogs.get(i)));
    }
    for (int i = 0; i < sentinelLogs.size(); i++) {
      EmbeddedRedis sentinel = sentinels.get(i);
      s.append("\n  sentinel ").append(sentinel.port())
          .append(sentinel.alive() ? " (running): " : " (not running): ")
          .append(FixtureWaits.tail(sentinelLogs.get(i)));
    }
    return s.toString();
  }


}
