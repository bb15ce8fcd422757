package io.opentime.content;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.opentime.config.RecommendationsConfig;
import io.opentime.profile.ProfileStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The catalog as recommendations read it, cached in process (Caffeine): category rankings (the sorted sets
 * {@code catalog:category:<name>} and {@code catalog:bestsellers}, best first) re-read in the background after
 * {@code rankings-refresh}, and product details (hashes {@code product:<id>}) kept for {@code products-ttl}. Missing
 * products are fetched together: one {@code HMGET} per product, all sent in the same turn on their connections, so
 * they pipeline into one round trip. Concurrent requests for one key share one read.
 */
public final class Catalog {

  private static final String[] PRODUCT_FIELDS = {"name", "price", "image", "url"};

  private final AsyncLoadingCache<String, List<String>> rankings;
  private final AsyncLoadingCache<String, Product> products;

  // ZREVRANGE is deprecated in Redis 6.2 in favour of ZRANGE ... REV, but works on every Redis version in use.
  @SuppressWarnings("deprecation")
  public Catalog(RecommendationsConfig config, ProfileStore store, Ticker ticker) {
    this.rankings = Caffeine.newBuilder()
        .maximumSize(10_000)
        .refreshAfterWrite(config.rankingsRefresh())
        .expireAfterWrite(config.rankingsRefresh().multipliedBy(10))
        .executor(Runnable::run)
        .ticker(ticker)
        .buildAsync((key, executor) -> store.read(key,
                Request.cmd(Command.ZREVRANGE).arg(key).arg(0).arg(config.candidates() - 1))
            .map(Catalog::ids).toCompletionStage().toCompletableFuture());
    this.products = Caffeine.newBuilder()
        .maximumSize(100_000)
        .expireAfterWrite(config.productsTtl())
        .executor(Runnable::run)
        .ticker(ticker)
        .buildAsync((id, executor) -> fetchProduct(store, id));
  }

  private static CompletableFuture<Product> fetchProduct(ProfileStore store, String id) {
    String key = RecommendationsConfig.PRODUCT_KEY_PREFIX + id;
    Request hmget = Request.cmd(Command.HMGET).arg(key);
    for (String f : PRODUCT_FIELDS) {
      hmget.arg(f);
    }
    return store.read(key, hmget).map(r -> toProduct(id, r)).toCompletionStage().toCompletableFuture();
  }

  /** The ranked product ids under a sorted-set key (empty if the key does not exist). */
  public Future<List<String>> ranking(String key) {
    return onCaller(rankings.get(key));
  }

  /** The details of these products, by id; ids without a hash in Redis are left out. */
  public Future<Map<String, Product>> products(List<String> ids) {
    List<CompletableFuture<Product>> loads = new ArrayList<>(ids.size());
    for (String id : ids) {
      loads.add(products.get(id)); // issued together: the misses pipeline
    }
    CompletableFuture<Map<String, Product>> all = CompletableFuture.allOf(loads.toArray(CompletableFuture[]::new))
        .thenApply(v -> {
          Map<String, Product> found = new HashMap<>();
          for (CompletableFuture<Product> f : loads) {
            Product p = f.join();
            if (p != Product.MISSING) {
              found.put(p.id(), p);
            }
          }
          return found;
        });
    return onCaller(all);
  }

  private static <T> Future<T> onCaller(CompletableFuture<T> cf) {
    return cf.isDone() ? Future.fromCompletionStage(cf) : Future.fromCompletionStage(cf, Vertx.currentContext());
  }

  private static List<String> ids(Response reply) {
    List<String> ids = new ArrayList<>();
    if (reply != null) {
      for (int i = 0; i < reply.size(); i++) {
        ids.add(reply.get(i).toString());
      }
    }
    return List.copyOf(ids);
  }

  private static Product toProduct(String id, Response reply) {
    if (reply == null || reply.size() < PRODUCT_FIELDS.length || reply.get(0) == null) {
      return Product.MISSING;
    }
    return new Product(id, str(reply.get(0)), str(reply.get(1)), str(reply.get(2)), str(reply.get(3)));
  }

  private static String str(Response r) {
    return r == null ? "" : r.toString();
  }
}
