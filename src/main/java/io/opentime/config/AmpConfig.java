package io.opentime.config;

import java.util.List;

/**
 * AMP for Email CORS policy: the sender addresses allowed to call us ({@code news@shop.example} or
 * {@code *@shop.example}), and the email client origins accepted for the deprecated version 1 of AMP CORS.
 */
public record AmpConfig(List<String> senders, List<String> origins) {
  public AmpConfig {
    senders = List.copyOf(senders);
    origins = List.copyOf(origins);
  }
}
