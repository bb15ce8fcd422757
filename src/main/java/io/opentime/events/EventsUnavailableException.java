package io.opentime.events;

/** Kafka cannot take an event now (queue full, gateway stopping, producer gave up). */
public final class EventsUnavailableException extends RuntimeException {

  public EventsUnavailableException(String message) {
    super(message, null, false, false);
  }
}
