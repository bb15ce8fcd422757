package io.opentime.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A file of one value per line (tokens, uids), read once into an array and shared: a million tokens are a plain
 * {@code String[]} indexed by the Zipf sampler, not a Gatling feeder copying records per virtual user. Line {@code i} of
 * the tokens file is the token of line {@code i} of the uids file (the {@code token} command keeps the order).
 */
final class ReaderFile {

  private static final Map<Path, String[]> LOADED = new ConcurrentHashMap<>();

  private ReaderFile() {
  }

  static String[] load(Path file) {
    return LOADED.computeIfAbsent(file.toAbsolutePath().normalize(), ReaderFile::read);
  }

  private static String[] read(Path file) {
    long t0 = System.nanoTime();
    List<String> lines = new ArrayList<>(1 << 16);
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        String value = line.strip();
        if (value.isEmpty()) {
          throw new IllegalArgumentException(file + " line " + (lines.size() + 1) + ": blank");
        }
        lines.add(value);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    if (lines.isEmpty()) {
      throw new IllegalArgumentException(file + " is empty");
    }
    System.out.printf("loaded %,d lines from %s in %d ms%n", lines.size(), file,
        (System.nanoTime() - t0) / 1_000_000);
    return lines.toArray(new String[0]);
  }
}
