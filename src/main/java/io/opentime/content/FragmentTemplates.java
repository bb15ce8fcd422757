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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
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

  /** Deepest nesting of partials a render may reach before it fails (and the default fragment is answered). */
  static final int MAX_PARTIAL_DEPTH = 8;

  private final Map<String, Compiled> byBlock;

  /**
   * A block's compiled templates (its own, and each variant's or null where a variant uses the block's) and its
   * default fragment, rendered once from the block's defaults.
   */
  public record Compiled(String file, Mustache mustache, List<Mustache> variants, String defaultFragment) {

    /**
     * Renders what the block exposes for a variant (-1: default); throws if the template fails (callers answer
     * the default fragment).
     */
    public String render(Map<String, ?> fields, int variant) {
      Mustache m = variant < 0 || variants.get(variant) == null ? mustache : variants.get(variant);
      StringWriter out = new StringWriter(256);
      m.execute(out, fields);
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
  public static FragmentTemplates load(Map<String, BlockConfig> blocks, BlockRegistry registry, Path dir) {
    Map<String, Compiled> compiled = new HashMap<>();
    if (blocks.values().stream().allMatch(b -> b.template() == null)) {
      return new FragmentTemplates(compiled);
    }
    if (dir != null && !Files.isDirectory(dir)) {
      throw new ConfigException("templates folder " + dir + " does not exist (blocks name templates; it sits next to "
          + "the configuration file)");
    }
    // Partials ({{> name}}) resolve inside the same folder only.
    DefaultMustacheFactory factory = dir != null ? new DefaultMustacheFactory(dir.toFile())
        : new DefaultMustacheFactory("conf/templates");
    // A template that includes itself renders on the event loop until the recursion limit: mustache-java's
    // default of 100 levels blocked a loop for seconds (FragmentTest); real templates nest partials a few deep.
    factory.setRecursionLimit(MAX_PARTIAL_DEPTH);
    for (BlockConfig block : blocks.values()) {
      if (block.template() == null) {
        continue;
      }
      String where = where(dir, block.template());
      Mustache mustache = compile(factory, dir, block.template(), where);
      List<Mustache> variants = new ArrayList<>();
      for (BlockConfig.Variant v : block.variants()) {
        variants.add(v.template() == null ? null : compile(factory, dir, v.template(), where(dir, v.template())));
      }
      String defaultFragment;
      try {
        StringWriter out = new StringWriter();
        Map<String, Object> scope = new java.util.LinkedHashMap<>(registry.get(block.name()).fields(null, -1));
        if (block.recommends()) {
          scope.put("products", List.of()); // the default fragment of a recommendations block: no products
        }
        mustache.execute(out, scope);
        defaultFragment = out.toString();
      } catch (RuntimeException e) {
        throw new ConfigException("template " + where + ": does not render with the block's defaults: " + e.getMessage());
      }
      compiled.put(block.name(), new Compiled(where, mustache, java.util.Collections.unmodifiableList(variants),
          defaultFragment));
    }
    return new FragmentTemplates(compiled);
  }

  private static String where(Path dir, String name) {
    return dir != null ? dir.resolve(name).toString() : "built-in conf/templates/" + name;
  }

  private static Mustache compile(MustacheFactory factory, Path dir, String name, String where) {
    String text = read(dir, name, where);
    if (text.contains("{{{") || text.contains("{{&")) {
      throw new ConfigException("template " + where + ": unescaped output ({{{...}}} or {{&...}}) is not allowed; "
          + "profile values are always HTML-escaped");
    }
    try {
      return factory.compile(new StringReader(text), name);
    } catch (MustacheException e) {
      throw new ConfigException("template " + where + ": " + e.getMessage().replace('\n', ' '));
    }
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
