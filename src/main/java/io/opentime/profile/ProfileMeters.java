package io.opentime.profile;

/** What the profile layer reports about itself; implemented by the metrics, a no-op where none are wanted. */
public interface ProfileMeters {

  ProfileMeters NONE = new ProfileMeters() {
    @Override
    public void redisRead(long nanos, FallbackReason failure) {
    }

    @Override
    public void coalesced() {
    }

    @Override
    public void loopStalled() {
    }
  };

  /** One profile read from Redis ended after {@code nanos}: successfully when {@code failure} is null. */
  void redisRead(long nanos, FallbackReason failure);

  /** An open joined a Redis read already in flight for the same reader instead of starting its own. */
  void coalesced();

  /**
   * A Redis read that was in flight while its own event loop stalled (a long GC pause, CPU starvation) missed its
   * deadline: answered with defaults, not counted against Redis, which may not have been slow at all.
   */
  void loopStalled();
}
