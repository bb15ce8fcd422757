package io.opentime.config;

/**
 * The management server (metrics and health), on its own port so that it need not be exposed with the public one.
 * Port 0 picks a free port (tests).
 */
public record ManagementConfig(String host, int port) {
}
