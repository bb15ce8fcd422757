package io.opentime.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses durations written as a whole number and a unit: {@code 250us}, {@code 25ms}, {@code 5s}, {@code 10m},
 * {@code 2h}, {@code 31d}.
 */
public final class Durations {

  private static final Pattern FORMAT = Pattern.compile("(\\d{1,12})\\s*(us|ms|s|m|h|d)");

  private Durations() {
  }

  /** @throws IllegalArgumentException with a message saying what is accepted */
  public static Duration parse(String text) {
    Matcher m = FORMAT.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a duration: '" + text + "' (use a number and us, ms, s, m, h or d, e.g. 25ms, 31d)");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "us" -> Duration.ofNanos(n * 1000);
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** The shortest exact spelling, for messages and docs. */
  public static String format(Duration d) {
    if (d.getNano() % 1_000_000 != 0) { // below a millisecond: microseconds (the finest unit parsed)
      return d.getSeconds() * 1_000_000 + d.getNano() / 1000 + "us";
    }
    long ms = d.toMillis();
    if (ms == 0) {
      return "0s";
    }
    if (ms % 86_400_000 == 0 && ms > 0) {
      return ms / 86_400_000 + "d";
    }
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0 && ms > 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
