package io.opentime;

import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentime.config.GatewayConfig;
import io.opentime.content.BlockRegistry;
import io.opentime.content.FragmentTemplates;
import io.opentime.content.Catalog;
import io.opentime.content.Recommender;
import io.opentime.content.Segments;
import io.opentime.config.BlockConfig;
import java.util.ArrayList;
import java.util.List;
import io.opentime.http.AmpCors;
import io.opentime.http.HttpVerticle;
import io.opentime.ops.GatewayMetrics;
import io.opentime.ops.ManagementVerticle;
import io.opentime.profile.ProfileCache;
import io.opentime.profile.ProfileStore;
import io.opentime.token.TokenCodec;
import io.opentime.token.VerifiedTokens;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.util.Set;

/**
 * A running gateway: the shared services built from the configuration and the HTTP verticles deployed on the given
 * {@link Vertx}, one per configured instance. {@code Main} starts one; tests start as many as they need.
 */
public final class Gateway {

  /** Verified tokens remembered (about 300 bytes each): enough for the opens of a large send's first minutes. */
  static final long VERIFIED_TOKENS = 100_000;

  private final Vertx vertx;
  private final GatewayServices services;
  private final String deploymentId;
  private final String managementId;
  private final ManagementVerticle management;

  private Gateway(Vertx vertx, GatewayServices services, String deploymentId, String managementId,
                  ManagementVerticle management) {
    this.vertx = vertx;
    this.services = services;
    this.deploymentId = deploymentId;
    this.managementId = managementId;
    this.management = management;
  }

  /** The management server's port (metrics, health). */
  public int managementPort() {
    return management.actualPort();
  }

  /**
   * Builds the services (reading and compiling the fragment templates: call it from a main or test thread, not an
   * event loop) and deploys the HTTP verticles. Fails if the port cannot be bound; does not fail when Redis
   * is unreachable (the gateway then serves defaults and reconnects by itself).
   */
  public static Future<Gateway> start(Vertx vertx, GatewayConfig config, MeterRegistry registry, Clock clock,
                                      Ticker ticker) {
    GatewayServices services;
    try {
      List<String> readOnlyFields = new ArrayList<>(config.segments().fields());
      if (config.blocks().values().stream().anyMatch(BlockConfig::recommends)) {
        readOnlyFields.add(config.recommendations().categoriesField());
        readOnlyFields.add(config.recommendations().purchasedField());
      }
      BlockRegistry blocks = new BlockRegistry(config.blocks(), readOnlyFields);
      FragmentTemplates fragments = FragmentTemplates.load(config.blocks(), blocks, config.templatesDir());
      GatewayMetrics metrics = new GatewayMetrics(registry, Set.of(HttpVerticle.AMP_ROUTE, HttpVerticle.FRAGMENT_ROUTE),
          config.blocks().keySet(), config.segments().rules().keySet());
      Segments segments = Segments.compile(config.segments(), clock, metrics::segmentFailed);
      ProfileStore store = new ProfileStore(vertx, config.redis(), blocks.schema(), ticker, metrics);
      Recommender recommender = new Recommender(config.recommendations(),
          new Catalog(config.recommendations(), store, ticker), blocks.schema());
      services = new GatewayServices(config,
          new VerifiedTokens(new TokenCodec(config.tokenKeys(), clock), VERIFIED_TOKENS),
          new AmpCors(config.amp()),
          blocks,
          fragments,
          segments,
          recommender,
          store,
          new ProfileCache(config.cache(), store, ticker, metrics),
          metrics);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    services.metrics().bind(services.cache().view(), services.store());
    ManagementVerticle management = new ManagementVerticle(config.management(), services.metrics(), services.store());
    DeploymentOptions options = new DeploymentOptions().setInstances(config.http().instances());
    return vertx.deployVerticle(management)
        .compose(managementId -> vertx.deployVerticle(() -> new HttpVerticle(services), options)
            .map(id -> new Gateway(vertx, services, id, managementId, management))
            .recover(err -> vertx.undeploy(managementId).transform(v -> Future.failedFuture(err))));
  }

  public GatewayServices services() {
    return services;
  }

  /** Starts the shutdown: readiness answers DRAINING while the servers keep serving. */
  public void beginDrain() {
    management.beginDrain();
  }

  /** Stops the HTTP servers (in-flight requests finish within the drain timeout) and closes their Redis links. */
  public Future<Void> stop() {
    return vertx.undeploy(deploymentId).eventually(() -> vertx.undeploy(managementId)).eventually(() -> {
      services.store().close();
      services.metrics().close();
      return Future.succeededFuture();
    });
  }
}
