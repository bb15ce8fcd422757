package io.opentime.profile;

/** Why an answer fell back to defaults. The {@link #tag()} is the metric tag. */
public enum FallbackReason {
  /** Redis did not answer within the deadline. */
  TIMEOUT("timeout"),
  /** Redis answered with an error, or the connection failed. */
  ERROR("error"),
  /** The circuit breaker is open: Redis was not asked. */
  BREAKER_OPEN("breaker_open"),
  /** No connection to Redis (down at start, or reconnecting). */
  NOT_CONNECTED("not_connected"),
  /** The request's token was missing, forged or expired. */
  BAD_TOKEN("bad_token"),
  /** The block's template failed to render this profile: its default fragment was answered. */
  RENDER_ERROR("render_error"),
  /** The reader withdrew consent to personalization (or it is required and was never given). */
  NO_CONSENT("no_consent");

  private final String tag;

  FallbackReason(String tag) {
    this.tag = tag;
  }

  public String tag() {
    return tag;
  }
}
