package io.opentime.content;

import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import com.github.mustachejava.MustacheException;
import com.github.mustachejava.MustacheFactory;
import io.opentime.config.BlockConfig;
import io.opentime.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The blocks' HTML fragment templates, compiled once at start-up (mustache-java), never per request and never from
 * a path taken from a URL: a request names a block, the block names its template in the configuration.
 *
 * <p>Safety rules checked at start-up, each failing it with the file (and line) named: the template must compile;
 * it may not use unescaped output ({@code {{{x}}}} or {@code {{&x}}}), so every profile value is HTML-escaped; and
 * it must render with the block's defaults, which gives the default fragment answered whenever a render fails.
 *
 * <p>Blocking: reads files; build it before deploying verticles, never on an event loop.
 */
public final class FragmentTemplates {

  private final Map<String, Compiled> byBlock;

  /** A block's compiled template and its default fragment, rendered once from the block's defaults. */
  public record Compiled(String file, Mustache mustache, String defaultFragment) {

    /** Renders the fields a block exposes; throws if the template fails (callers answer the default fragment). */
    public String render(Map<String, String> fields) {
      StringWriter out = new StringWriter(256);
      mustache.execute(out, fields);
      return out.toString();
    }
  }

  private FragmentTemplates(Map<String, Compiled> byBlock) {
    this.byBlock = Map.copyOf(byBlock);
  }

  /**
   * Compiles the templates of every block that names one.
   *
   * @param dir the templates folder, or null for the templates built into the jar
   * @throws ConfigException naming the file (and line) of the first template that fails
   */
  public static FragmentTemplates load(Map<String, BlockConfig> blocks, Path dir) {
    Map<String, Compiled> compiled = new HashMap<>();
    if (blocks.values().stream().allMatch(b -> b.template() == null)) {
      return new FragmentTemplates(compiled);
    }
    if (dir != null && !Files.isDirectory(dir)) {
      throw new ConfigException("templates folder " + dir + " does not exist (blocks name templates; it sits next to "
          + "the configuration file)");
    }
    // Partials ({{> name}}) resolve inside the same folder only.
    MustacheFactory factory = dir != null ? new DefaultMustacheFactory(dir.toFile())
        : new DefaultMustacheFactory("conf/templates");
    for (BlockConfig block : blocks.values()) {
      if (block.template() == null) {
        continue;
      }
      String where = (dir != null ? dir.resolve(block.template()).toString() : "built-in conf/templates/" + block.template());
      String text = read(dir, block.template(), where);
      if (text.contains("{{{") || text.contains("{{&")) {
        throw new ConfigException("template " + where + ": unescaped output ({{{...}}} or {{&...}}) is not allowed; "
            + "profile values are always HTML-escaped");
      }
      Mustache mustache;
      try {
        mustache = factory.compile(new StringReader(text), block.template());
      } catch (MustacheException e) {
        throw new ConfigException("template " + where + ": " + e.getMessage().replace('\n', ' '));
      }
      Map<String, String> defaults = new java.util.LinkedHashMap<>();
      block.fields().forEach(f -> defaults.put(f.name(), f.defaultValue()));
      String defaultFragment;
      try {
        StringWriter out = new StringWriter();
        mustache.execute(out, defaults);
        defaultFragment = out.toString();
      } catch (RuntimeException e) {
        throw new ConfigException("template " + where + ": does not render with the block's defaults: " + e.getMessage());
      }
      compiled.put(block.name(), new Compiled(where, mustache, defaultFragment));
    }
    return new FragmentTemplates(compiled);
  }

  /** The compiled template of a block, or null if it has none. */
  public Compiled get(String block) {
    return byBlock.get(block);
  }

  public Map<String, Compiled> all() {
    return byBlock;
  }

  private static String read(Path dir, String name, String where) {
    try {
      if (dir != null) {
        return Files.readString(dir.resolve(name), StandardCharsets.UTF_8);
      }
      try (InputStream in = FragmentTemplates.class.getResourceAsStream("/conf/templates/" + name)) {
        if (in == null) {
          throw new ConfigException("template " + where + ": not found");
        }
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    } catch (NoSuchFileException e) {
      throw new ConfigException("template " + where + ": not found");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read template " + where, e);
    }
  }
}
