package io.opentime.events;

/**
 * A profile event that breaks the event format (docs/events.md). The message is meant for the event's sender: it
 * names the offending member first, e.g. {@code time: not an RFC 3339 timestamp}, and never echoes a value.
 */
public final class InvalidEventException extends RuntimeException {

  /** @param message the client-facing reason, {@code <member>: <problem>} */
  public InvalidEventException(String message) {
    super(message);
  }
}
