package io.opentime.profile;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.stats.ConcurrentStatsCounter;
import io.opentime.config.CacheConfig;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentMap;

/**
 * The in-process profile cache in front of {@link ProfileStore} (Caffeine).
 *
 * <ul>
 *   <li>Coalescing: the cache holds the load's future, so all opens of one reader that arrive while it is being read
 *       share a single Redis read, whichever event loop they are on.</li>
 *   <li>Stale-while-revalidate: a profile older than {@code refresh-after} is still answered at once (as
 *       {@link Source#STALE}) while Caffeine re-reads it in the background; a failed re-read keeps the old value,
 *       so during an outage readers get the last good data until {@code expire-after}.</li>
 *   <li>Fallback: a miss that Redis cannot answer (deadline, error, breaker) yields {@link Source#DEFAULT}; failures
 *       are not cached, so the next open tries again (cheaply, while the breaker is open).</li>
 * </ul>
 *
 * <p>Threading: Caffeine runs its maintenance and refresh dispatch on the calling thread ({@code Runnable::run}),
 * never on the common pool (one thread on a 2-core machine). A load started on one event loop completes there;
 * {@link #lookup} hands the result back on the caller's own context.
 */
public final class ProfileCache {

  private final AsyncLoadingCache<String, Profile> cache;
  /** The cache as a map: a look that records no statistics (a hit is recorded by {@link #lookup}). */
  private final ConcurrentMap<String, CompletableFuture<Profile>> entries;
  private final ConcurrentStatsCounter stats = new ConcurrentStatsCounter();
  private final Ticker ticker;
  private final long refreshAfterNanos;
  private final ProfileMeters meters;

  public ProfileCache(CacheConfig config, ProfileStore store, Ticker ticker, ProfileMeters meters) {
    this.ticker = ticker;
    this.meters = meters;
    this.refreshAfterNanos = config.refreshAfter().toNanos();
    this.cache = Caffeine.newBuilder()
        .maximumSize(config.maxEntries())
        .refreshAfterWrite(config.refreshAfter())
        .expireAfterWrite(config.expireAfter())
        .executor(Runnable::run)
        .ticker(ticker)
        .recordStats(() -> stats)
        .buildAsync((uid, executor) -> store.load(uid));
    this.entries = cache.asMap();
  }

  /**
   * Looks a reader up. Never fails: failures become a {@link Source#DEFAULT} lookup with the reason. Must be called
   * on a Vert.x context; the future completes on that context (at once on a cache hit).
   *
   * <p>The cache's statistics count each lookup once, as a hit or a miss (a look followed by a load used to count a
   * miss twice): a hit is a look at the map, which records nothing, and the hit is recorded here; a miss is one
   * {@code get}, which records the miss itself and starts the read.
   */
  public Future<ProfileLookup> lookup(String uid) {
    CompletableFuture<Profile> present = entries.get(uid); // records nothing; triggers a due background refresh
    if (present != null) {
      stats.recordHits(1);
      if (present.isDone() && !present.isCompletedExceptionally()) {
        Profile p = present.join();
        Source s = ticker.read() - p.loadedAtNanos() >= refreshAfterNanos ? Source.STALE : Source.CACHE;
        return Future.succeededFuture(new ProfileLookup(p, s, null));
      }
      if (!present.isDone()) {
        meters.coalesced();
      }
    }
    CompletableFuture<Profile> load = present != null ? present : cache.get(uid); // get: records the miss
    if (load.isDone()) {
      return Future.succeededFuture(fromLoad(load));
    }
    // Completed on the caller's context: at once when the read completes on the caller's own event loop, else
    // handed back to it as a task.
    ContextInternal caller = (ContextInternal) Vertx.currentContext();
    Promise<ProfileLookup> answer = caller != null ? caller.promise() : Promise.promise();
    load.whenComplete((profile, err) -> answer.complete(err == null
        ? new ProfileLookup(profile, Source.REDIS, null)
        : ProfileLookup.fallback(RedisUnavailableException.reasonOf(err))));
    return answer.future();
  }

  private static ProfileLookup fromLoad(CompletableFuture<Profile> done) {
    try {
      return new ProfileLookup(done.join(), Source.REDIS, null);
    } catch (RuntimeException e) {
      return ProfileLookup.fallback(RedisUnavailableException.reasonOf(e));
    }
  }

  /** Whole seconds since this profile was read from Redis, on the cache's clock. */
  public long ageSeconds(Profile profile) {
    return Math.max(0, (ticker.read() - profile.loadedAtNanos()) / 1_000_000_000L);
  }

  /** Drops a reader's cached profile, so the next open reads Redis. */
  public void invalidate(String uid) {
    cache.synchronous().invalidate(uid);
  }

  /** Approximate number of cached profiles. */
  public long size() {
    return cache.synchronous().estimatedSize();
  }

  /** The underlying Caffeine cache, for metrics binding. */
  public com.github.benmanes.caffeine.cache.Cache<String, Profile> view() {
    return cache.synchronous();
  }
}
