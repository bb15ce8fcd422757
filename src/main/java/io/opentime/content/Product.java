package io.opentime.content;

/** A catalog product as a recommendation shows it: the hash {@code product:<id>} (name, price, image, url). */
public record Product(String id, String name, String price, String image, String link) {

  /** Stands for a product id with no hash in Redis; never shown. */
  static final Product MISSING = new Product("", "", "", "", "");
}
