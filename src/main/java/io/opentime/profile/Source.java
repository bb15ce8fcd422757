package io.opentime.profile;

/** Where the data of an answer came from; sent as {@code X-Opentime-Source} and used as a metric tag. */
public enum Source {
  /** Read from Redis for this request (a cache miss, or a request that joined one in flight). */
  REDIS("redis"),
  /** From the in-process cache, younger than the refresh age. */
  CACHE("cache"),
  /** From the cache, older than the refresh age: a background re-read was due or Redis could not answer. */
  STALE("stale"),
  /** The block's static defaults: no token, no profile data could be read, or nothing cached. */
  DEFAULT("default");

  private final String tag;

  Source(String tag) {
    this.tag = tag;
  }

  public String tag() {
    return tag;
  }
}
