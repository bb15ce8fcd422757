package io.opentime.profile;

import java.util.concurrent.TimeoutException;

/**
 * A profile read that did not produce a profile, with the reason.
 *
 * <p>It extends {@link TimeoutException} on purpose: Caffeine logs every failed asynchronous load or refresh at
 * WARNING except cancellations and timeouts. During a Redis outage that would be one stack trace per request; the
 * outage is reported by metrics and the breaker's state instead. Stack traces are not filled in, for the same reason.
 */
public final class RedisUnavailableException extends TimeoutException {
  private static final long serialVersionUID = 1L;

  private final FallbackReason reason;

  public RedisUnavailableException(FallbackReason reason, String detail) {
    super(detail);
    this.reason = reason;
  }

  public FallbackReason reason() {
    return reason;
  }

  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }

  /** The reason carried by a failure, {@link FallbackReason#ERROR} for anything unexpected. */
  public static FallbackReason reasonOf(Throwable t) {
    Throwable c = t;
    while (c != null) {
      if (c instanceof RedisUnavailableException r) {
        return r.reason;
      }
      c = c.getCause();
    }
    return FallbackReason.ERROR;
  }
}
