package io.opentime.config;

import java.time.Duration;

/**
 * The in-process profile cache: at most {@code maxEntries} profiles; a profile older than {@code refreshAfter} is
 * served while it is re-read in the background; one older than {@code expireAfter} is dropped.
 */
public record CacheConfig(long maxEntries, Duration refreshAfter, Duration expireAfter) {
}
