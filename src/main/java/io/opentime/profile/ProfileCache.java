package io.opentime.profile;

import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.stats.ConcurrentStatsCounter;
import io.opentime.config.CacheConfig;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * The in-process profile cache in front of {@link ProfileStore} (Caffeine).
 *
 * <ul>
 *   <li>Coalescing: while a reader's profile is being read, all its opens share that single Redis read, whichever
 *       event loop they are on.</li>
 *   <li>Stale-while-revalidate: a profile older than {@code refresh-after} is still answered at once (as
 *       {@link Source#STALE}) while Caffeine re-reads it in the background; a failed re-read keeps the old value,
 *       so during an outage readers get the last good data until {@code expire-after}.</li>
 *   <li>Fallback: a miss that Redis cannot answer (deadline, error, breaker) yields {@link Source#DEFAULT}; failures
 *       are not cached, so the next open tries again (cheaply, while the breaker is open).</li>
 *   <li>Invalidation: {@link #invalidate} drops the cached profile and any read of it in flight; a read started
 *       before an invalidation is never stored after it (Caffeine discards such a refresh itself).</li>
 * </ul>
 *
 * <p>Why a synchronous Caffeine cache beside a map of the reads in flight, and not Caffeine's asynchronous cache
 * (which would coalesce by itself): the asynchronous cache stores a future per reader, then, when the read
 * completes, writes the entry a second time. With a million cached readers those two writes and the extra object per
 * entry were the largest part of a miss's cost that grows with the cache (bench/README.md, {@code cold-ab.sh}). Here a
 * miss writes the cache once, with the profile, and the map of reads in flight stays as small as the reads are few.
 *
 * <p>Threading: Caffeine runs its maintenance and refresh dispatch on the calling thread ({@code Runnable::run}),
 * never on the common pool (one thread on a 2-core machine). A read started on one event loop completes there;
 * {@link #lookup} hands the result back on the caller's own context.
 */
public final class ProfileCache {

  private final LoadingCache<String, Profile> cache;
  /** Misses being read from Redis, by uid: at most one read per reader. */
  private final ConcurrentHashMap<String, CompletableFuture<Profile>> inFlight = new ConcurrentHashMap<>();
  private final ConcurrentStatsCounter stats = new ConcurrentStatsCounter();
  private final ProfileStore store;
  private final Ticker ticker;
  private final long refreshAfterNanos;
  private final ProfileMeters meters;

  public ProfileCache(CacheConfig config, ProfileStore store, Ticker ticker, ProfileMeters meters) {
    this.store = store;
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
        .build(new Refresher(store));
  }

  /**
   * Looks a reader up. Never fails: failures become a {@link Source#DEFAULT} lookup with the reason. Must be called
   * on a Vert.x context; the future completes on that context (at once on a cache hit).
   *
   * <p>The cache's statistics count each lookup once: a hit, or a miss (an open that joins a read in flight is a
   * miss too: it waits for Redis). Only the read a miss starts counts as a load.
   */
  public Future<ProfileLookup> lookup(String uid) {
    Profile cached = cache.getIfPresent(uid); // records the hit or miss; starts a due background refresh
    if (cached != null) {
      Source s = ticker.read() - cached.loadedAtNanos() >= refreshAfterNanos ? Source.STALE : Source.CACHE;
      return Future.succeededFuture(new ProfileLookup(cached, s, null));
    }
    CompletableFuture<Profile> read = readAndStore(uid);
    if (read.isDone()) {
      return Future.succeededFuture(fromRead(read));
    }
    // Completed on the caller's context: at once when the read completes on the caller's own event loop, else
    // handed back to it as a task.
    ContextInternal caller = (ContextInternal) Vertx.currentContext();
    Promise<ProfileLookup> answer = caller != null ? caller.promise() : Promise.promise();
    read.whenComplete((profile, err) -> answer.complete(err == null
        ? new ProfileLookup(profile, Source.REDIS, null)
        : ProfileLookup.fallback(RedisUnavailableException.reasonOf(err))));
    return answer.future();
  }

  /**
   * Starts the read of a missing reader, or joins the one another open started a moment before. The profile read is
   * stored only if this read is still the reader's read in flight when it completes: {@link #invalidate} removes it
   * from {@link #inFlight} under the same lock, so a read it overtook is answered to the opens that waited for it but
   * never cached. The opens are answered after the store, so an open that follows an answered one finds the profile
   * in the cache.
   */
  private CompletableFuture<Profile> readAndStore(String uid) {
    CompletableFuture<Profile> mine = new CompletableFuture<>();
    CompletableFuture<Profile> read = inFlight.putIfAbsent(uid, mine);
    if (read != null) {
      meters.coalesced();
      return read;
    }
    long startNanos = ticker.read();
    CompletableFuture<Profile> load;
    try {
      load = store.load(uid); // never blocks: the read joins the loop's next batch to Redis
    } catch (RuntimeException e) {
      load = CompletableFuture.failedFuture(e); // not expected; without this the reader's opens would wait forever
    }
    load.whenComplete((profile, err) -> {
      long took = ticker.read() - startNanos;
      if (err != null) {
        inFlight.remove(uid, mine);
        stats.recordLoadFailure(took);
        mine.completeExceptionally(err);
        return;
      }
      stats.recordLoadSuccess(took);
      inFlight.computeIfPresent(uid, (k, current) -> {
        if (current != mine) {
          return current;
        }
        cache.put(k, profile);
        return null;
      });
      mine.complete(profile);
    });
    return mine;
  }

  private static ProfileLookup fromRead(CompletableFuture<Profile> done) {
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

  /** Drops a reader's cached profile and any read of it in flight, so the next open reads Redis. */
  public void invalidate(String uid) {
    inFlight.compute(uid, (k, read) -> {
      cache.invalidate(k);
      return null;
    });
  }

  /** Approximate number of cached profiles. */
  public long size() {
    return cache.estimatedSize();
  }

  /** The underlying Caffeine cache, for metrics binding. */
  public com.github.benmanes.caffeine.cache.Cache<String, Profile> view() {
    return cache;
  }

  /**
   * Caffeine's loader, used only for background refreshes (misses go through {@link #readAndStore}): a refresh is
   * one profile read; when it fails the old profile stays.
   */
  private static final class Refresher implements CacheLoader<String, Profile> {
    private final ProfileStore store;

    Refresher(ProfileStore store) {
      this.store = store;
    }

    @Override
    public Profile load(String uid) {
      // Never called: lookups use getIfPresent, and a blocking read here would block an event loop.
      throw new UnsupportedOperationException("profiles are read asynchronously");
    }

    @Override
    public CompletableFuture<Profile> asyncReload(String uid, Profile old, Executor executor) {
      return store.load(uid);
    }
  }
}
