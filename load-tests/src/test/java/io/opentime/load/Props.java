package io.opentime.load;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The simulations' parameters: Java system properties ({@code mvn ... gatling:test -Drate=2000}), each with a default.
 * A malformed value stops the simulation at start-up with a message naming the property.
 */
final class Props {

  private Props() {
  }

  static String string(String name, String def) {
    String v = System.getProperty(name);
    return v == null || v.isBlank() ? def : v.trim();
  }

  static int integer(String name, int def, int min) {
    String v = string(name, null);
    int value;
    try {
      value = v == null ? def : Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + name + "=" + v + ": not an integer");
    }
    if (value < min) {
      throw new IllegalArgumentException("-D" + name + "=" + value + ": must be at least " + min);
    }
    return value;
  }

  static double decimal(String name, double def, double min, double max) {
    String v = string(name, null);
    double value;
    try {
      value = v == null ? def : Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + name + "=" + v + ": not a number");
    }
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException("-D" + name + "=" + value + ": must be within [" + min + ", " + max + "]");
    }
    return value;
  }

  static long longValue(String name, long def) {
    String v = string(name, null);
    try {
      return v == null ? def : Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + name + "=" + v + ": not an integer");
    }
  }

  static boolean bool(String name, boolean def) {
    String v = string(name, null);
    if (v == null) {
      return def;
    }
    if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
      throw new IllegalArgumentException("-D" + name + "=" + v + ": must be true or false");
    }
    return Boolean.parseBoolean(v);
  }

  /**
   * Like {@link #file}, but optional: null when the property is not set and the default file does not exist. A value
   * that is given must name an existing file.
   */
  static Path optionalFile(String name, String def) {
    if (string(name, null) != null) {
      return file(name, def);
    }
    try {
      return file(name, def);
    } catch (IllegalArgumentException absent) {
      return null;
    }
  }

  /**
   * An existing file: the property's value (or the default) as given, else relative to {@code load-tests/} (so the
   * defaults work whether Maven runs from the repository root or from {@code load-tests/}).
   */
  static Path file(String name, String def) {
    Path given = Path.of(string(name, def));
    if (Files.isRegularFile(given)) {
      return given;
    }
    if (!given.isAbsolute()) {
      Path inLoadTests = Path.of("load-tests").resolve(given);
      if (Files.isRegularFile(inLoadTests)) {
        return inLoadTests;
      }
    }
    throw new IllegalArgumentException("-D" + name + ": no file at " + given.toAbsolutePath()
        + " (load-tests/run.sh writes it; or pass -D" + name + "=/path/to/file)");
  }
}
