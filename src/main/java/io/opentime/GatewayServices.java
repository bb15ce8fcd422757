package io.opentime;

import io.opentime.config.GatewayConfig;
import io.opentime.content.BlockRegistry;
import io.opentime.content.FragmentTemplates;
import io.opentime.content.Recommender;
import io.opentime.content.Segments;
import io.opentime.events.EventPublisher;
import io.opentime.events.Links;
import io.opentime.http.AmpCors;
import io.opentime.ops.EventMetrics;
import io.opentime.ops.GatewayMetrics;
import io.opentime.profile.Consent;
import io.opentime.profile.ProfileCache;
import io.opentime.profile.ProfileStore;
import io.opentime.token.VerifiedTokens;

/**
 * The process-wide pieces every HTTP verticle instance shares. All are thread-safe. {@code publisher} is null when
 * events are off (no Kafka configured).
 */
public record GatewayServices(GatewayConfig config, VerifiedTokens tokens, AmpCors cors, BlockRegistry blocks,
                              FragmentTemplates fragments, Segments segments, Recommender recommender, ProfileStore store, ProfileCache cache,
                              GatewayMetrics metrics, Consent consent, Links links, EventPublisher publisher,
                              EventMetrics eventMetrics) {
}
