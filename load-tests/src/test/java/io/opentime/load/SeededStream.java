package io.opentime.load;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A seeded, thread-safe stream of uniform doubles in [0, 1): draw {@code i} is SplitMix64 of {@code seed} and
 * {@code i}, so the sequence of values is the same on every run with the same seed (which virtual user gets which
 * value depends on thread timing, as in any concurrent load). Lock-free: one atomic increment per draw.
 */
final class SeededStream {

  private final long seed;
  private final AtomicLong draws = new AtomicLong();

  SeededStream(long seed) {
    this.seed = seed;
  }

  double nextDouble() {
    long z = seed + (draws.getAndIncrement() + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    return (z >>> 11) * 0x1.0p-53;
  }
}
