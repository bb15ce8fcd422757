package io.opentime.support;

import io.opentime.demo.EmbeddedRedis;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The Redis server shared by the whole test run (started once, on a free port, stopped when the JVM exits).
 * Tests that pause or kill Redis start their own {@link EmbeddedRedis} instead.
 */
public final class TestRedis {

  private static EmbeddedRedis shared;

  private TestRedis() {
  }

  public static synchronized EmbeddedRedis shared() {
    if (shared == null) {
      try {
        shared = EmbeddedRedis.start(0);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot start the test Redis", e);
      }
      EmbeddedRedis r = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(r::close, "test-redis-stop"));
    }
    return shared;
  }
}
