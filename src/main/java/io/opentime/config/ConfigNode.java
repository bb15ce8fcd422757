package io.opentime.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.LinkedHashSet;

/**
 * Typed, path-aware access to one YAML mapping. Every getter records the key it read, so {@link #rejectUnknown()}
 * can name a misspelt key instead of silently ignoring it. Values that came from an environment variable are
 * reported under that variable's name.
 */
final class ConfigNode {

  private final JsonObject json;
  private final String path;
  private final Map<String, String> envSources; // dotted path -> env variable it came from
  private final Set<String> read = new HashSet<>();

  ConfigNode(JsonObject json, String path, Map<String, String> envSources) {
    this.json = json == null ? new JsonObject() : json;
    this.path = path;
    this.envSources = envSources;
  }

  String where(String key) {
    String full = path.isEmpty() ? key : path + "." + key;
    String env = envSources.get(full);
    return env != null ? env + " (" + full + ")" : full;
  }

  ConfigException error(String key, String problem) {
    return new ConfigException("config error in " + where(key) + ": " + problem);
  }

  ConfigNode child(String key) {
    read.add(key);
    Object v = json.getValue(key);
    if (v != null && !(v instanceof JsonObject)) {
      throw error(key, "must be a mapping");
    }
    return new ConfigNode((JsonObject) v, path.isEmpty() ? key : path + "." + key, envSources);
  }

  Set<String> keys() {
    return new LinkedHashSet<>(json.fieldNames());
  }

  Object raw(String key) {
    read.add(key);
    return json.getValue(key);
  }

  String string(String key, String def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    if (v instanceof JsonObject || v instanceof JsonArray) {
      throw error(key, "must be a single value");
    }
    return v.toString().trim();
  }

  boolean bool(String key, boolean def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    return switch (v.toString().trim().toLowerCase(java.util.Locale.ROOT)) {
      case "true", "yes", "on", "1" -> true;
      case "false", "no", "off", "0" -> false;
      default -> throw error(key, "must be true or false (got '" + v + "')");
    };
  }

  int integer(String key, int def, int min, int max) {
    return (int) longValue(key, def, min, max);
  }

  long longValue(String key, long def, long min, long max) {
    Object v = raw(key);
    long n;
    if (v == null) {
      n = def;
    } else if (v instanceof Number num && num.doubleValue() == num.longValue()) {
      n = num.longValue();
    } else {
      try {
        n = Long.parseLong(v.toString().trim().replace("_", ""));
      } catch (NumberFormatException e) {
        throw error(key, "must be a whole number (got '" + v + "')");
      }
    }
    if (n < min || n > max) {
      throw error(key, "must be between " + min + " and " + max + " (got " + n + ")");
    }
    return n;
  }

  Duration duration(String key, Duration def, Duration min, Duration max) {
    Object v = raw(key);
    Duration d;
    if (v == null) {
      d = def;
    } else {
      try {
        d = Durations.parse(v.toString());
      } catch (IllegalArgumentException e) {
        throw error(key, e.getMessage());
      }
    }
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      throw error(key, "must be between " + Durations.format(min) + " and " + Durations.format(max)
          + " (got " + Durations.format(d) + ")");
    }
    return d;
  }

  /** A YAML list, or a comma-separated string (the form environment variables use). */
  List<String> stringList(String key, List<String> def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    List<String> out = new ArrayList<>();
    if (v instanceof JsonArray arr) {
      for (Object o : arr) {
        if (o == null || o instanceof JsonObject || o instanceof JsonArray) {
          throw error(key, "must be a list of strings");
        }
        if (!o.toString().isBlank()) {
          out.add(o.toString().trim());
        }
      }
    } else if (v instanceof JsonObject) {
      throw error(key, "must be a list");
    } else {
      for (String part : v.toString().split(",")) {
        if (!part.isBlank()) {
          out.add(part.trim());
        }
      }
    }
    return List.copyOf(out);
  }

  void rejectUnknown() {
    for (String k : keys()) {
      if (!read.contains(k)) {
        throw error(k, "unknown key (check the spelling; every key is listed in the README)");
      }
    }
  }
}
