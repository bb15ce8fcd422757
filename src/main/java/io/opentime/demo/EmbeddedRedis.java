package io.opentime.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} process on a loopback port, for the demo and the tests. It uses a
 * {@code redis-server} found on PATH, else the binary the embedded-redis jar ships for this OS and CPU. Unlike that
 * jar's own launcher it exposes the process, so tests can pause it (SIGSTOP), resume it, kill it and start it again
 * on the same port.
 *
 * <p>Blocking: start and stop wait for the process; call them from a main or test thread, never an event loop.
 */
public final class EmbeddedRedis implements AutoCloseable {

  private static final long START_TIMEOUT_MS = 10_000;
  private static Path extracted;
  /** Every server this JVM started and has not stopped: killed when the JVM exits, whatever path it exits by. */
  private static final java.util.Set<Process> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

  static {
    // SIGKILL also ends a server a test left paused (SIGSTOP).
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
        "embedded-redis-reaper"));
  }

  private final Path binary;
  private final int port;
  /** Everything after the binary on the command line: the same on every (re)start. */
  private final List<String> args;
  private final Path logFile;
  private Process process;

  private EmbeddedRedis(Path binary, int port, List<String> args) throws IOException {
    this.binary = binary;
    this.port = port;
    this.args = List.copyOf(args);
    this.logFile = Files.createTempFile("opentime-redis-" + port + "-", ".log");
    this.logFile.toFile().deleteOnExit();
  }

  /** Starts Redis on the given port (0 picks a free one) and waits until it accepts connections. */
  public static EmbeddedRedis start(int port) throws IOException {
    return start(port, List.of());
  }

  /**
   * Starts Redis as {@link #start(int)} does, with {@code extraArgs} (e.g. {@code "--cluster-enabled", "yes"})
   * appended after the fixed arguments: where both set a single-valued option, the extra one wins. {@link #restart()}
   * passes them again.
   */
  public static EmbeddedRedis start(int port, List<String> extraArgs) throws IOException {
    int p = port == 0 ? freePort() : port;
    List<String> args = new ArrayList<>(List.of(
        "--port", Integer.toString(p),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--maxmemory-policy", "noeviction",
        "--loglevel", "warning"));
    args.addAll(extraArgs);
    EmbeddedRedis redis = new EmbeddedRedis(resolveBinary(), p, args);
    redis.startProcess();
    return redis;
  }

  /**
   * Starts the same binary as a Redis Sentinel on the given port (0 picks a free one), as
   * {@code <binary> <configFile> --sentinel --port <port> --bind 127.0.0.1 --daemonize no}, and waits until it accepts
   * connections. The config file holds the {@code sentinel monitor} lines and any other settings. Sentinel rewrites
   * it (its id, the replicas and sentinels it finds, each failover) through a temporary file beside it: the file and
   * its directory must be writable, and the file used by this sentinel only. {@link #restart()} starts it again from
   * the rewritten file.
   */
  public static EmbeddedRedis startSentinel(int port, Path configFile) throws IOException {
    int p = port == 0 ? freePort() : port;
    EmbeddedRedis sentinel = new EmbeddedRedis(resolveBinary(), p, List.of(
        configFile.toAbsolutePath().toString(), "--sentinel",
        "--port", Integer.toString(p),
        "--bind", "127.0.0.1",
        "--daemonize", "no"));
    sentinel.startProcess();
    return sentinel;
  }

  public int port() {
    return port;
  }

  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  public long pid() {
    return process.pid();
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  public void pause() {
    signal("-STOP");
  }

  /** Resumes a paused server (SIGCONT). */
  public void resume() {
    signal("-CONT");
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  public void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitFor(process);
      LIVE.remove(process);
    }
  }

  /** Starts the server again on the same port after {@link #kill()} or {@link #close()}. */
  public void restart() throws IOException {
    if (alive()) {
      throw new IllegalStateException("Redis on port " + port + " is still running");
    }
    startProcess();
  }

  @Override
  public void close() {
    if (process != null && process.isAlive()) {
      resume(); // a paused process would not handle SIGTERM
      process.destroy();
      if (!waitFor(process)) {
        process.destroyForcibly();
        waitFor(process);
      }
    }
    if (process != null) {
      LIVE.remove(process);
    }
  }

  private void startProcess() throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary.toString());
    cmd.addAll(args);
    process = new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(logFile.toFile())
        .start();
    LIVE.add(process);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("redis-server exited at start (code " + process.exitValue() + "): " + logTail());
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        pauseBriefly();
      }
    }
    close();
    throw new IOException("redis-server did not accept connections on port " + port + " within "
        + START_TIMEOUT_MS + " ms: " + logTail());
  }

  private String logTail() {
    try {
      List<String> lines = Files.readAllLines(logFile);
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private void signal(String sig) {
    if (process == null || !process.isAlive()) {
      throw new IllegalStateException("Redis on port " + port + " is not running");
    }
    try {
      Process kill = new ProcessBuilder("kill", sig, Long.toString(process.pid())).inheritIO().start();
      if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill " + sig + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while signalling Redis", e);
    }
  }

  private static boolean waitFor(Process p) {
    try {
      return p.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void pauseBriefly() {
    try {
      TimeUnit.MILLISECONDS.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A free loopback port, as the OS hands it out now. */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  /** {@code redis-server} from PATH, else the embedded-redis jar's binary for this platform, extracted once. */
  static Path resolveBinary() throws IOException {
    if (onPath("redis-server")) {
      return Path.of("redis-server"); // resolved by the OS from PATH when started
    }
    return extractBundled();
  }

  /**
   * Copies the bundled binary, once per JVM, into a fresh directory only this user can write: never a well-known
   * path in the shared temp directory, where another local user could plant a binary for us to run.
   */
  private static synchronized Path extractBundled() throws IOException {
    if (extracted != null && Files.isExecutable(extracted)) {
      return extracted;
    }
    String resource = bundledName();
    try (InputStream in = EmbeddedRedis.class.getResourceAsStream("/" + resource)) {
      if (in == null) {
        throw new IOException("no redis-server on PATH and no bundled binary " + resource
            + " for this platform: install Redis (e.g. apt-get install redis-server)");
      }
      Path dir = Files.createTempDirectory("opentime-redis-");
      dir.toFile().deleteOnExit(); // registered first, deleted last
      Path target = dir.resolve("redis-server");
      target.toFile().deleteOnExit();
      Files.copy(in, target);
      if (!target.toFile().setExecutable(true, true)) {
        throw new IOException("cannot make " + target + " executable");
      }
      extracted = target;
      return target;
    }
  }

  /** True if the command starts: lets the OS resolve it from PATH, as it will when the server is started. */
  private static boolean onPath(String command) {
    try {
      Process p = new ProcessBuilder(command, "--version").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static String bundledName() {
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    boolean arm = arch.contains("aarch64") || arch.contains("arm64");
    if (os.contains("mac") || os.contains("darwin")) {
      return arm ? "redis-server-6.2.6-v5-darwin-arm64" : "redis-server-6.2.6-v5-darwin-amd64";
    }
    return arm ? "redis-server-6.2.7-linux-arm64" : "redis-server-6.2.6-v5-linux-amd64";
  }
}
