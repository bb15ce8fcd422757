package io.opentime.events;

/** What applying one event did to the reader's profile hash (the apply script's answer). */
public enum ApplyResult {
  /** The hash changed; the reader's uid was published on the invalidation channel. */
  CHANGED,
  /** Nothing changed: a replay, or an event older than what the hash already holds. Nothing was published. */
  UNCHANGED,
  /** Ignored: the event is not newer than the reader's erasure tombstone, so it cannot bring data back. */
  ERASED_BEFORE
}
