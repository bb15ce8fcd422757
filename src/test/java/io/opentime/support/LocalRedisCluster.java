package io.opentime.support;

import io.opentime.demo.EmbeddedRedis;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * A real Redis Cluster on loopback for integration tests: masters with replicas, each node a {@code redis-server}
 * process ({@link EmbeddedRedis}) on a free port. It is built without redis-cli (the bundled Redis 6.2 has none) the
 * way {@code redis-cli --cluster create} builds one: a distinct config epoch per node, CLUSTER ADDSLOTS on each master
 * (the 16384 slots split evenly), CLUSTER MEET, then CLUSTER REPLICATE on each replica. The cluster node timeout is
 * 1000 ms, so a replica takes over a killed master within a few seconds.
 *
 * <p>The nodes' cluster configs, logs and replication files live in one temp directory, deleted by {@link #close()}.
 * Blocking: call from a test thread, never an event loop.
 */
public final class LocalRedisCluster implements AutoCloseable {

  /** Hash slots of a Redis Cluster. */
  public static final int SLOTS = 16384;
  /** {@code cluster-node-timeout}: how long a node is unreachable before it is suspected to be down. */
  public static final int NODE_TIMEOUT_MS = 1000;
  /** Bound on {@link #start(int, int)} reaching a ready cluster once every process has started. */
  public static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

  private static final int BUS_PORT_OFFSET = 10_000;

  private final int masters;
  private final int replicasPerMaster;
  private final Path dir;
  /** The masters first, then the replicas of master 0, of master 1, and so on: the roles at start. */
  private final List<EmbeddedRedis> nodes = new ArrayList<>();
  private final List<Path> logs = new ArrayList<>();

  private LocalRedisCluster(int masters, int replicasPerMaster, Path dir) {
    this.masters = masters;
    this.replicasPerMaster = replicasPerMaster;
    this.dir = dir;
  }

  /**
   * Starts {@code masters} masters and {@code replicasPerMaster} replicas of each, forms the cluster and waits, at most
   * {@link #READY_TIMEOUT}, until every node knows every other, reports {@code cluster_state:ok}, and sees in CLUSTER
   * SLOTS all 16384 slots served by the masters, each range with its replicas at 127.0.0.1, and until every replica
   * reports {@code master_link_status:up}. If anything fails, whatever was started is stopped before this throws.
   *
   * @throws IOException if a process does not start, or a setup command gets no reply ({@link Resp.ErrorReply} if
   *     it gets an error)
   * @throws TimeoutException if the cluster is not ready in time; the message says what was last missing and ends
   *     with the tail of each node's log
   */
  public static LocalRedisCluster start(int masters, int replicasPerMaster)
      throws IOException, InterruptedException, TimeoutException {
    if (masters < 1 || masters > SLOTS || replicasPerMaster < 0) {
      throw new IllegalArgumentException("masters must be in 1.." + SLOTS + " and replicasPerMaster >= 0, not "
          + masters + " and " + replicasPerMaster);
    }
    LocalRedisCluster cluster = new LocalRedisCluster(masters, replicasPerMaster,
        Files.createTempDirectory("opentime-redis-cluster-"));
    try {
      cluster.startNodes();
      cluster.form();
      return cluster;
    } catch (Throwable t) {
      try {
        cluster.close();
      } catch (RuntimeException e) {
        t.addSuppressed(e);
      }
      throw t;
    }
  }

  /** {@code redis://127.0.0.1:<port>} of every node, in {@link #nodes()} order. */
  public List<String> seedUrls() {
    return nodes.stream().map(EmbeddedRedis::url).toList();
  }

  /** {@link #seedUrls()} joined with commas. */
  public String seedList() {
    return String.join(",", seedUrls());
  }

  /**
   * Every node, dead or alive: the masters first, then the replicas of the first master, of the second, and so on.
   * These are the roles at start; after a failover, ask the cluster ({@link #masterFor(String)}).
   */
  public List<EmbeddedRedis> nodes() {
    return Collections.unmodifiableList(nodes);
  }

  /**
   * The node that serves the key's slot now, as CLUSTER SLOTS on the first live node that answers says. Right after a
   * master dies nodes may still name it: call {@link #awaitFailover(EmbeddedRedis, Duration)} first.
   *
   * @throws IllegalStateException if no live node answers, or the slot is served by no node or by a node not of this
   *     cluster
   */
  public EmbeddedRedis masterFor(String key) {
    int slot = slot(key);
    Exception last = null;
    for (EmbeddedRedis node : nodes) {
      if (!node.alive()) {
        continue;
      }
      int[] owners;
      try {
        owners = slotOwners(Resp.command(node.port(), "CLUSTER", "SLOTS"));
      } catch (IOException | Resp.ErrorReply e) {
        last = e;
        continue;
      }
      if (owners[slot] == 0) {
        throw new IllegalStateException("slot " + slot + " of key " + key + " is served by no node, says node "
            + node.port());
      }
      return byPort(owners[slot]);
    }
    throw new IllegalStateException("no live node of the cluster answered CLUSTER SLOTS", last);
  }

  /**
   * The hash slot of a key, as Redis computes it: CRC16 (XMODEM) of the key's UTF-8 bytes modulo 16384, where a key
   * holding a non-empty {@code {tag}} is hashed by the tag alone (the first '{' and the first '}' after it).
   */
  public static int slot(String key) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int from = 0;
    int to = k.length;
    int open = indexOf(k, '{', 0);
    if (open >= 0) {
      int close = indexOf(k, '}', open + 1);
      if (close > open + 1) {
        from = open + 1;
        to = close;
      }
    }
    return crc16(k, from, to) & (SLOTS - 1);
  }

  /**
   * Waits, at most {@code max}, until a replica has taken over from a master that died (killed or paused): on every
   * live node other than {@code deadMaster}, CLUSTER INFO reports {@code cluster_state:ok} and CLUSTER SLOTS has every
   * slot served by a live node other than {@code deadMaster}. A node that served no slots passes at once.
   *
   * @throws TimeoutException if that is not so in time; the message says what was last missing and ends with the tail
   *     of each node's log
   */
  public void awaitFailover(EmbeddedRedis deadMaster, Duration max) throws InterruptedException, TimeoutException {
    if (!nodes.contains(deadMaster)) {
      throw new IllegalArgumentException("not a node of this cluster: " + deadMaster.url());
    }
    List<EmbeddedRedis> live = nodes.stream().filter(n -> n != deadMaster && n.alive()).toList();
    Set<Integer> livePorts = live.stream().map(EmbeddedRedis::port).collect(Collectors.toSet());
    await("failover from node " + deadMaster.port(), max, () -> {
      for (EmbeddedRedis node : live) {
        String state = Resp.infoField(Resp.command(node.port(), "CLUSTER", "INFO"), "cluster_state");
        if (!"ok".equals(state)) {
          return "node " + node.port() + ": cluster_state:" + state;
        }
        int[] owners = slotOwners(Resp.command(node.port(), "CLUSTER", "SLOTS"));
        for (int slot = 0; slot < SLOTS; slot++) {
          if (!livePorts.contains(owners[slot])) {
            return "node " + node.port() + ": slot " + slot + " served by "
                + (owners[slot] == 0 ? "no node" : "node " + owners[slot]);
          }
        }
      }
      return null;
    });
  }

  /**
   * Stops every node (SIGTERM, then SIGKILL after 5 s) and deletes the cluster's temp directory. Safe to call twice and
   * on a half-started cluster.
   */
  @Override
  public void close() {
    RuntimeException failure = null;
    for (EmbeddedRedis node : nodes) {
      try {
        node.close();
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

  private void startNodes() throws IOException {
    Set<Integer> taken = new HashSet<>();
    for (int i = 0; i < masters * (1 + replicasPerMaster); i++) {
      int port = clusterPort(taken);
      Path log = dir.resolve("node-" + port + ".log");
      List<String> args = List.of(
          "--cluster-enabled", "yes",
          "--cluster-config-file", dir.resolve("nodes-" + port + ".conf").toString(),
          "--cluster-node-timeout", Integer.toString(NODE_TIMEOUT_MS),
          "--dir", dir.toString(), // where a replica writes the RDB of a full sync: never the JVM's working directory
          "--dbfilename", "dump-" + port + ".rdb",
          "--logfile", log.toString(),
          "--loglevel", "notice",
          "--repl-diskless-sync", "yes",
          "--repl-diskless-sync-delay", "0"); // 6.2 waits 5 s by default before streaming to a new replica
      try {
        nodes.add(EmbeddedRedis.start(port, args));
      } catch (IOException e) {
        throw new IOException(e.getMessage() + "; log: " + FixtureWaits.tail(log), e);
      }
      logs.add(log);
    }
  }

  private void form() throws IOException, InterruptedException, TimeoutException {
    long deadlineNanos = System.nanoTime() + READY_TIMEOUT.toNanos();
    // Distinct epochs, as redis-cli sets them, so that the masters need not resolve a collision first. Only accepted
    // while the node knows no other.
    for (int i = 0; i < nodes.size(); i++) {
      Resp.command(nodes.get(i).port(), "CLUSTER", "SET-CONFIG-EPOCH", Integer.toString(i + 1));
    }
    for (int m = 0; m < masters; m++) {
      int from = SLOTS * m / masters;
      int to = SLOTS * (m + 1) / masters; // exclusive
      List<String> cmd = new ArrayList<>(List.of("CLUSTER", "ADDSLOTS"));
      for (int slot = from; slot < to; slot++) {
        cmd.add(Integer.toString(slot));
      }
      Resp.command(nodes.get(m).port(), cmd.toArray(String[]::new));
    }
    EmbeddedRedis first = nodes.get(0);
    for (EmbeddedRedis node : nodes.subList(1, nodes.size())) {
      Resp.command(first.port(), "CLUSTER", "MEET", "127.0.0.1", Integer.toString(node.port()));
    }
    List<String> masterIds = new ArrayList<>();
    for (EmbeddedRedis master : nodes.subList(0, masters)) {
      masterIds.add((String) Resp.command(master.port(), "CLUSTER", "MYID"));
    }
    for (int r = 0; r < masters * replicasPerMaster; r++) {
      EmbeddedRedis replica = nodes.get(masters + r);
      String masterId = masterIds.get(r / replicasPerMaster);
      // CLUSTER REPLICATE fails with "Unknown node" until gossip has told the replica about its master
      await("node " + replica.port() + " knowing master " + masterId, FixtureWaits.remaining(deadlineNanos), () -> {
        String nodesReply = (String) Resp.command(replica.port(), "CLUSTER", "NODES");
        for (String line : nodesReply.split("\n")) {
          String[] f = line.split(" ");
          if (f.length > 2 && f[0].equals(masterId) && f[2].contains("master") && !f[2].contains("handshake")) {
            return null;
          }
        }
        return "not yet in its CLUSTER NODES";
      });
      Resp.command(replica.port(), "CLUSTER", "REPLICATE", masterId);
    }
    Set<Integer> masterPorts = nodes.subList(0, masters).stream().map(EmbeddedRedis::port).collect(Collectors.toSet());
    await("cluster ready", FixtureWaits.remaining(deadlineNanos), () -> {
      for (int i = 0; i < nodes.size(); i++) {
        EmbeddedRedis node = nodes.get(i);
        String info = (String) Resp.command(node.port(), "CLUSTER", "INFO");
        String state = Resp.infoField(info, "cluster_state");
        if (!"ok".equals(state)) {
          return "node " + node.port() + ": cluster_state:" + state;
        }
        String known = Resp.infoField(info, "cluster_known_nodes");
        if (!Integer.toString(nodes.size()).equals(known)) {
          return "node " + node.port() + ": cluster_known_nodes:" + known + " of " + nodes.size();
        }
        String slotsProblem = slotsProblem(Resp.command(node.port(), "CLUSTER", "SLOTS"), masterPorts);
        if (slotsProblem != null) {
          return "node " + node.port() + ": " + slotsProblem;
        }
        if (i >= masters) {
          String link = Resp.infoField(Resp.command(node.port(), "INFO", "replication"), "master_link_status");
          if (!"up".equals(link)) {
            return "replica " + node.port() + ": master_link_status:" + link;
          }
        }
      }
      return null;
    });
  }

  /**
   * Null if a CLUSTER SLOTS reply has every slot served by one of the masters at 127.0.0.1, listed with all its
   * replicas, else what is missing.
   */
  private String slotsProblem(Object clusterSlots, Set<Integer> masterPorts) {
    int covered = 0;
    for (Object o : (List<?>) clusterSlots) {
      List<?> range = (List<?>) o;
      long from = (Long) range.get(0);
      long to = (Long) range.get(1);
      List<?> master = (List<?>) range.get(2);
      if (!"127.0.0.1".equals(master.get(0)) || !masterPorts.contains(((Long) master.get(1)).intValue())) {
        return "slots " + from + "-" + to + " served by " + master;
      }
      if (range.size() - 3 != replicasPerMaster) {
        return "slots " + from + "-" + to + " list " + (range.size() - 3) + " replicas, not " + replicasPerMaster;
      }
      for (Object replica : range.subList(3, range.size())) {
        if (!"127.0.0.1".equals(((List<?>) replica).get(0))) {
          return "slots " + from + "-" + to + " list replica " + replica;
        }
      }
      covered += (int) (to - from + 1);
    }
    return covered == SLOTS ? null : covered + " of " + SLOTS + " slots served";
  }

  /** The port of the master serving each slot according to a CLUSTER SLOTS reply, 0 for a slot no node serves. */
  private static int[] slotOwners(Object clusterSlots) {
    int[] owners = new int[SLOTS];
    for (Object o : (List<?>) clusterSlots) {
      List<?> range = (List<?>) o;
      int port = ((Long) ((List<?>) range.get(2)).get(1)).intValue();
      for (long slot = (Long) range.get(0); slot <= (Long) range.get(1); slot++) {
        owners[(int) slot] = port;
      }
    }
    return owners;
  }

  private EmbeddedRedis byPort(int port) {
    return nodes.stream().filter(n -> n.port() == port).findFirst()
        .orElseThrow(() -> new IllegalStateException("port " + port + " is not a node of this cluster"));
  }

  /**
   * A free loopback port whose cluster bus port (port + 10000, at most 65535) is free too, neither of them taken by
   * another node of this cluster.
   */
  private static int clusterPort(Set<Integer> taken) throws IOException {
    for (int attempt = 0; attempt < 100; attempt++) {
      int port = EmbeddedRedis.freePort();
      int bus = port + BUS_PORT_OFFSET;
      if (bus <= 65_535 && !taken.contains(port) && !taken.contains(bus) && free(bus)) {
        taken.add(port);
        taken.add(bus);
        return port;
      }
    }
    throw new IOException("found no free loopback port p with p + " + BUS_PORT_OFFSET + " free too, in 100 tries");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return s.isBound();
    } catch (IOException e) {
      return false;
    }
  }

  private void await(String what, Duration max, FixtureWaits.Probe probe)
      throws InterruptedException, TimeoutException {
    FixtureWaits.await(what, max, probe, this::logTails);
  }


  private String logTails() {
    StringBuilder s = new StringBuilder("last log lines of each node:");
    for (int i = 0; i < logs.size(); i++) {
      String role = i < masters ? "master " + i : "replica of master " + (i - masters) / Math.max(1, replicasPerMaster);
      s.append("\n  node ").append(nodes.get(i).port()).append(" (").append(role).append(", ")
          .append(nodes.get(i).alive() ? "running" : "not running").append("): ")
          .append(FixtureWaits.tail(logs.get(i)));
    }
    return s.toString();
  }



  private static int indexOf(byte[] bytes, char c, int from) {
    for (int i = from; i < bytes.length; i++) {
      if (bytes[i] == c) {
        return i;
      }
    }
    return -1;
  }

  /** CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with. */
  private static int crc16(byte[] bytes, int from, int to) {
    int crc = 0;
    for (int i = from; i < to; i++) {
      crc ^= (bytes[i] & 0xff) << 8;
      for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
      crc &= 0xffff;
    }
    return crc;
  }
}
