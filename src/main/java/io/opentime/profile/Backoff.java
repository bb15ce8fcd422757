package io.opentime.profile;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Capped, jittered exponential backoff for reconnects: each delay is drawn from the upper half of a window that
 * doubles from {@code firstMs} up to {@code maxMs}; {@link #reset()} after a success. Not thread-safe: one owner.
 */
public final class Backoff {

  private final long firstMs;
  private final long maxMs;
  private long windowMs;

  public Backoff(long firstMs, long maxMs) {
    this.firstMs = firstMs;
    this.maxMs = Math.max(firstMs, maxMs);
    this.windowMs = firstMs;
  }

  /** The next delay, in milliseconds, and widens the window for the one after. */
  public long next() {
    long delay = windowMs / 2 + ThreadLocalRandom.current().nextLong(windowMs / 2 + 1);
    windowMs = Math.min(maxMs, windowMs * 2);
    return delay;
  }

  public void reset() {
    windowMs = firstMs;
  }
}
