package io.opentime.config;

import java.time.Duration;

/**
 * How recommendations read a reader and the catalog: the profile field listing the categories they viewed (most
 * recent first) and the one listing what they bought (both comma-separated), how many recent categories and how
 * many ranked products per category to consider, and how long category rankings and product details are cached.
 */
public record RecommendationsConfig(String categoriesField, String purchasedField, int categories, int candidates,
                                    Duration rankingsRefresh, Duration productsTtl) {

  public static final String CATEGORY_KEY_PREFIX = "catalog:category:";
  public static final String BESTSELLERS_KEY = "catalog:bestsellers";
  public static final String PRODUCT_KEY_PREFIX = "product:";
}
