/**
 * Reader profiles: the Redis hash behind each reader ({@link ProfileStore}), the per-event-loop pipelined
 * connections it reads through ({@link RedisLink}), and the in-process cache with request coalescing,
 * stale-while-revalidate and fallback ({@link ProfileCache}).
 */
package io.opentime.profile;
