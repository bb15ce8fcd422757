package io.opentime.content;

import io.opentime.config.RecommendationsConfig;
import io.opentime.profile.Profile;
import io.opentime.profile.ProfileSchema;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Picks a reader's top products: from the categories they viewed most recently (profile field, most recent first,
 * up to {@code categories}), each ranked by its own score, most recent category first; leaving out what they
 * bought (profile field) and duplicates; filled up with best sellers when that gives too few. A reader without a
 * profile gets best sellers. Never fails: what cannot be read is skipped, at worst the list is empty.
 */
public final class Recommender {

  private final RecommendationsConfig config;
  private final Catalog catalog;
  private final int categoriesIndex;
  private final int purchasedIndex;

  // Recent answers, keyed by the (immutable, cached) profile object itself: a reader opening again within the
  // rankings refresh gets the same products without recomputing. A changed profile is a new object, a new key.
  private final Cache<Profile, Recent> recent;

  private record Recent(int count, List<Product> products) {
  }
  private static final Profile NO_PROFILE = new Profile(new String[0], 0);

  public Recommender(RecommendationsConfig config, Catalog catalog, ProfileSchema schema) {
    this.recent = Caffeine.newBuilder()
        .weakKeys()
        .maximumSize(100_000)
        .expireAfterWrite(config.rankingsRefresh())
        .executor(Runnable::run)
        .build();
    this.config = config;
    this.catalog = catalog;
    this.categoriesIndex = schema.indexOf(config.categoriesField());
    this.purchasedIndex = schema.indexOf(config.purchasedField());
  }

  /** Up to {@code count} products for the reader (null profile: best sellers), in the order to show them. */
  public Future<List<Product>> recommend(Profile profile, int count) {
    Profile key = profile == null ? NO_PROFILE : profile;
    Recent known = recent.getIfPresent(key);
    if (known != null && known.count() == count) {
      return Future.succeededFuture(known.products());
    }
    return compute(profile, count).onSuccess(products -> {
      if (!products.isEmpty()) {
        recent.put(key, new Recent(count, List.copyOf(products)));
      }
    });
  }

  private Future<List<Product>> compute(Profile profile, int count) {
    List<String> categories = profile == null ? List.of() : split(profile.value(categoriesIndex));
    if (categories.size() > config.categories()) {
      categories = categories.subList(0, config.categories());
    }
    Set<String> bought = new java.util.HashSet<>(profile == null ? List.of() : split(profile.value(purchasedIndex)));
    List<Future<List<String>>> rankings = new ArrayList<>();
    for (String category : categories) {
      rankings.add(catalog.ranking(RecommendationsConfig.CATEGORY_KEY_PREFIX + category));
    }
    rankings.add(catalog.ranking(RecommendationsConfig.BESTSELLERS_KEY));
    return Future.join(rankings).transform(ignored -> {
      // Twice the count of candidates, so that products missing from the catalog can be skipped.
      Set<String> picked = new LinkedHashSet<>();
      for (Future<List<String>> ranking : rankings) {
        if (ranking.succeeded()) {
          for (String id : ranking.result()) {
            if (picked.size() >= 2 * count) {
              break;
            }
            if (!bought.contains(id)) {
              picked.add(id);
            }
          }
        }
      }
      List<String> ids = List.copyOf(picked);
      return catalog.products(ids).<List<Product>>map(found -> {
        List<Product> out = new ArrayList<>(count);
        for (String id : ids) {
          Product p = found.get(id);
          if (p != null && out.size() < count) {
            out.add(p);
          }
        }
        return out;
      }).otherwise(err -> List.of());
    });
  }

  static List<String> split(String commaList) {
    List<String> out = new ArrayList<>();
    if (commaList != null) {
      for (String part : commaList.split(",")) {
        String s = part.strip();
        if (!s.isEmpty() && !out.contains(s)) {
          out.add(s);
        }
      }
    }
    return out;
  }
}
