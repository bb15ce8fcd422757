package io.opentime.load;

/**
 * A large send landing: opens arrive at {@code rate} per second (ramped over {@code ramp} s, then held for
 * {@code duration} s), readers Zipf-distributed over the tokens file; each open fetches the pixel, both AMP blocks and
 * sometimes the offer fragment. SLO defaults: no failed request, p99 below 50 ms.
 */
public class CampaignBurst extends EmailOpenSimulation {

  {
    describeOpens();
    setUp(opens()).protocols(httpProtocol()).assertions(slo(50));
  }
}
