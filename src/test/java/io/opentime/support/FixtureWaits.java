package io.opentime.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * What {@link LocalRedisCluster} and {@link LocalSentinel} share: bounded polling of their servers with a message
 * that says what was still missing, log tails for those messages, and clean-up of their temp directories.
 */
final class FixtureWaits {

  static final long POLL_MS = 50;
  static final int LOG_TAIL_LINES = 4;

  private FixtureWaits() {
  }

  /** What one poll of a wait finds still missing, or null when the wait is over. */
  interface Probe {
    String unmet() throws IOException;
  }

  /**
   * Polls every 50 ms until the probe finds nothing missing; a Redis error or an I/O failure counts as not yet. On
   * timeout the message names the wait, what was last missing, and ends with {@code logTails}.
   */
  static void await(String what, Duration max, Probe probe, Supplier<String> logTails)
      throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + max.toNanos();
    while (true) {
      String unmet;
      try {
        unmet = probe.unmet();
      } catch (IOException | Resp.ErrorReply e) {
        unmet = e.toString();
      }
      if (unmet == null) {
        return;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new TimeoutException(what + ": not reached within " + max.toMillis() + " ms; last missing: " + unmet
            + "\n" + logTails.get());
      }
      TimeUnit.MILLISECONDS.sleep(POLL_MS);
    }
  }

  /** The time left until a deadline from {@link System#nanoTime()}, never negative. */
  static Duration remaining(long deadlineNanos) {
    return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
  }

  /** The last {@link #LOG_TAIL_LINES} lines of a log, indented for a multi-line message. */
  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
      return String.join("\n    ", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** Deletes a directory tree, best effort: a leftover temp directory must not fail the test that used it. */
  static void deleteTree(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // best effort
    }
  }
}
