package io.opentime.events;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.opentime.config.ConfigParser;
import io.opentime.config.LinksConfig;
import io.opentime.profile.ProfileStore;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves the link id of a click token to its target URL: from {@code links.targets}, else from the Redis hash
 * {@code links.redis-hash}, cached for {@link #TTL} (unknown ids too, so a flood of forged ids costs Redis one read
 * per id and minute; a link added to Redis is found within that time). A target read from Redis is checked like a
 * configured one; one that is not an absolute http(s) URL counts as unknown, so Redis data cannot make the gateway
 * an open redirect to, say, a {@code javascript:} URL.
 */
public final class Links {

  private static final Logger LOG = LoggerFactory.getLogger(Links.class);
  static final Duration TTL = Duration.ofMinutes(1);

  private final LinksConfig config;
  private final AsyncLoadingCache<String, Optional<String>> fromRedis;

  public Links(LinksConfig config, ProfileStore store, Ticker ticker) {
    this.config = config;
    this.fromRedis = Caffeine.newBuilder()
        .maximumSize(100_000)
        .expireAfterWrite(TTL)
        .executor(Runnable::run)
        .ticker(ticker)
        .buildAsync((id, executor) -> store.read(config.redisHash(), Request.cmd(Command.HGET).arg(config.redisHash()).arg(id))
            .map(this::target).toCompletionStage().toCompletableFuture());
  }

  /**
   * The target of a link id: a URL, empty when the id is unknown (a 404), or a failed future when Redis could not
   * be read (the caller answers the fallback URL or 503). Completes on a Vert.x event loop.
   */
  public Future<Optional<String>> resolve(String linkId) {
    String configured = config.targets().get(linkId);
    if (configured != null) {
      return Future.succeededFuture(Optional.of(configured));
    }
    if (!ConfigParser.LINK_ID.matcher(linkId).matches()) {
      return Future.succeededFuture(Optional.empty());
    }
    return Future.fromCompletionStage(fromRedis.get(linkId));
  }

  /** Where a click goes when its link cannot be looked up; empty when none is configured. */
  public Optional<String> fallback() {
    return config.fallbackUrl().isEmpty() ? Optional.empty() : Optional.of(config.fallbackUrl());
  }

  private Optional<String> target(Response reply) {
    if (reply == null) {
      return Optional.empty();
    }
    String url = reply.toString();
    String problem = ConfigParser.redirectProblem(url);
    if (problem != null) {
      LOG.warn("a link in the Redis hash {} is not a valid click target ({}); answering 404 for it",
          config.redisHash(), problem);
      return Optional.empty();
    }
    return Optional.of(url);
  }
}
