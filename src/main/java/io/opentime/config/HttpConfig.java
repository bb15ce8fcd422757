package io.opentime.config;

import java.time.Duration;

/**
 * The public HTTP server. {@code instances} is the number of HTTP verticle instances, by default one per core, as
 * {@code Main} builds one event loop per core; {@code idleTimeout} closes idle and slow-to-send connections.
 */
public record HttpConfig(String host, int port, int instances, Duration idleTimeout) {
}
