package io.opentime.config;

import java.time.Duration;

/**
 * The public HTTP server. {@code instances} is the number of HTTP verticle instances, by default one per core, as
 * {@code Main} builds one event loop per core; {@code idleTimeout} closes idle and slow-to-send connections.
 * On SIGTERM the gateway reports itself as draining for {@code shutdownDelay} while still serving (so load balancers
 * stop sending), then stops accepting and gives in-flight requests up to {@code drainTimeout} to finish.
 * {@code accessLog} logs one line per answer (logger {@code opentime.access}): route, block, status, source, time;
 * never a token, uid, path or query.
 */
public record HttpConfig(String host, int port, int instances, Duration idleTimeout, Duration shutdownDelay,
                         Duration drainTimeout, boolean accessLog) {
}
