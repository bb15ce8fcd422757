package io.opentime;

import io.micrometer.core.instrument.MeterRegistry;
import io.opentime.cli.ServeCommand;
import io.opentime.cli.TokenCommand;
import io.opentime.cli.UsageException;
import io.opentime.config.ConfigException;
import io.opentime.config.ConfigLoader;
import io.opentime.config.GatewayConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.io.BufferedWriter;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * Entry point: {@code opentime [serve|token] ...}. Builds the one {@link Vertx} of the process; prints one line and
 * exits 2 for bad arguments or configuration, 1 for other start-up failures, never a stack trace.
 */
@Command(name = "opentime", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    subcommands = {ServeCommand.class, TokenCommand.class},
    description = "Opentime: low-latency personalization gateway for email.")
public final class Main implements Runnable {

  /** Returned by a command that leaves the process running (serve). */
  public static final int KEEP_RUNNING = -1;
  private static final long STARTUP_TIMEOUT_SECONDS = 60;

  static {
    System.setProperty("vertx.logger-delegate-factory-class-name", "io.vertx.core.logging.SLF4JLogDelegateFactory");
  }

  public static void main(String[] args) {
    useTextLogsForDemo(args);
    int code = run(args, new PrintWriter(new BufferedWriter(new OutputStreamWriter(
        new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8), 1 << 16), false),
        new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true));
    if (code != KEEP_RUNNING) {
      System.exit(code);
    }
  }

  /**
   * Logs are JSON lines in production and readable lines in the demo. Decided before the first logger exists;
   * an explicit -Dlogback.configurationFile wins.
   */
  private static void useTextLogsForDemo(String[] args) {
    if (System.getProperty("logback.configurationFile") == null && java.util.Arrays.asList(args).contains("--demo")) {
      System.setProperty("logback.configurationFile", "logback-text.xml");
    }
  }

  /** Runs a command line; returns the exit code, or {@link #KEEP_RUNNING}. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new Main())
        .setOut(out)
        .setErr(err)
        .setParameterExceptionHandler((ex, a) -> {
          CommandLine c = ex.getCommandLine();
          c.getErr().println("opentime: " + ex.getMessage().replace('\n', ' ') + " (see '"
              + c.getCommandSpec().qualifiedName() + " --help')");
          return 2;
        })
        .setExecutionExceptionHandler((ex, c, parsed) -> {
          boolean usage = ex instanceof ConfigException || ex instanceof UsageException;
          c.getErr().println("opentime: " + describe(ex));
          return usage ? 2 : 1;
        });
    int code = cl.execute(args.length == 0 ? new String[] {"serve"} : args);
    out.flush();
    return code;
  }

  @Override
  public void run() {
    // "opentime" alone is handled in run(String[]) as "opentime serve"; reached only with options and no command.
    throw new CommandLine.ParameterException(new CommandLine(this), "name a command: serve or token");
  }

  /** A Vert.x for commands that only read configuration: no metrics. */
  public static Vertx newVertx() {
    return newVertx(null);
  }

  /**
   * The process's Vert.x: one event loop per core, native transport when available, and, given a registry, Vert.x's
   * own meters (HTTP server, Redis client pool, event loops) in it through vertx-micrometer-metrics. JVM meters are
   * bound by the gateway itself, so Vert.x's copy is off.
   */
  public static Vertx newVertx(MeterRegistry registry) {
    int cores = Runtime.getRuntime().availableProcessors();
    VertxOptions options = new VertxOptions()
        .setEventLoopPoolSize(cores)
        .setPreferNativeTransport(true)
        .setMaxEventLoopExecuteTime(200)
        .setMaxEventLoopExecuteTimeUnit(TimeUnit.MILLISECONDS);
    VertxBuilder builder = Vertx.builder().with(options);
    if (registry != null) {
      builder.withMetrics(new MicrometerMetricsFactory(registry));
      // Per-request HTTP server meters would repeat opentime_http_requests at ~10% of a cache-hit answer (measured);
      // net-client meters of the per-loop Redis connections collide (one untagged gauge per client) and repeat
      // vertx_redis_* and vertx_pool_*.
      options.setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(false)
          .addDisabledMetricsCategory(MetricsDomain.HTTP_SERVER)
          .addDisabledMetricsCategory(MetricsDomain.NET_CLIENT)
          .addLabels(Label.NAMESPACE)); // tells the per-loop Redis connections apart
    }
    return builder.build();
  }

  /** For commands that need only the configuration: builds Vert.x, reads the config with it, closes it. */
  public static GatewayConfig loadConfigOnce(Path file) {
    Vertx vertx = newVertx();
    try {
      return block(ConfigLoader.load(vertx, file));
    } finally {
      closeQuietly(vertx);
    }
  }

  /** Waits for a start-up or shutdown step from the main thread (never call on an event loop). */
  public static <T> T block(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(STARTUP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(cause.getMessage(), cause);
    } catch (TimeoutException e) {
      throw new IllegalStateException("timed out after " + STARTUP_TIMEOUT_SECONDS + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    }
  }

  public static void closeQuietly(Vertx vertx) {
    try {
      block(vertx.close());
    } catch (RuntimeException ignored) {
      // closing on the way out: nothing left to report to
    }
  }

  private static String describe(Throwable ex) {
    String msg = ex.getMessage();
    if (ex instanceof java.net.BindException || (msg != null && msg.contains("Address already in use"))) {
      return "cannot listen: " + msg + " (is another process using the port? set OPENTIME_HTTP_PORT)";
    }
    return msg == null ? ex.getClass().getSimpleName() : msg.replace('\n', ' ');
  }

  /** Version from the jar manifest (or "dev" when run from classes). */
  public static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"opentime " + (v == null ? "dev" : v)};
    }
  }
}
