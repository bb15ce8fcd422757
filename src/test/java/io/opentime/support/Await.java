package io.opentime.support;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Bounded polling for what happens after an answer (events recorded, applied, delivered). */
public final class Await {

  private Await() {
  }

  /** Polls every 20 ms until the condition holds; fails naming {@code what} after {@code timeout}. */
  public static void until(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
