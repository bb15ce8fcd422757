package io.opentime.load;

/**
 * The same opens as {@link CampaignBurst}, run by {@code load-tests/redis-trouble.sh} while it SIGSTOPs Redis for a
 * while and SIGCONTs it: a hung Redis (connections open, replies never come). The gateway must keep answering, from
 * its cache or with the blocks' defaults, within its Redis deadline. SLO defaults: zero failed requests, p99 below
 * 50 ms. The end-of-run summary shows how many answers were stale or defaults.
 */
public class RedisTrouble extends EmailOpenSimulation {

  {
    describeOpens();
    setUp(opens()).protocols(httpProtocol()).assertions(slo(50));
  }
}
