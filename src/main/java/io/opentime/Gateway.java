package io.opentime;

import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentime.config.BlockConfig;
import io.opentime.config.ConfigException;
import io.opentime.config.GatewayConfig;
import io.opentime.config.KafkaConfig;
import io.opentime.content.BlockRegistry;
import io.opentime.content.Catalog;
import io.opentime.content.FragmentTemplates;
import io.opentime.content.Recommender;
import io.opentime.content.Segments;
import io.opentime.events.EventPublisher;
import io.opentime.events.Invalidations;
import io.opentime.events.Links;
import io.opentime.events.UpdaterVerticle;
import io.opentime.http.AmpCors;
import io.opentime.http.HttpVerticle;
import io.opentime.ops.EventMetrics;
import io.opentime.ops.GatewayMetrics;
import io.opentime.ops.ManagementVerticle;
import io.opentime.profile.Consent;
import io.opentime.profile.ProfileCache;
import io.opentime.profile.ProfileStore;
import io.opentime.token.TokenCodec;
import io.opentime.token.VerifiedTokens;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway: the shared services built from the configuration and the HTTP verticles deployed on the given
 * {@link Vertx}, one per configured instance. {@code Main} starts one; tests start as many as they need.
 */
public final class Gateway {

  /** Slots of the verified-token table (about 300 bytes per remembered token; 512 KiB of slots, 512 KiB of hashes). */
  static final int VERIFIED_TOKENS = 1 << 17;
  /** Longest wait at shutdown for Kafka to acknowledge the events still queued. */
  static final java.time.Duration PUBLISHER_FLUSH = java.time.Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
  private static final java.util.concurrent.atomic.AtomicInteger UPDATER_IDS = new java.util.concurrent.atomic.AtomicInteger();

  private final Vertx vertx;
  private final GatewayServices services;
  private final String deploymentId;
  private final String managementId;
  private final ManagementVerticle management;
  private final Invalidations invalidations;
  private final String updaterId;

  private Gateway(Vertx vertx, GatewayServices services, String deploymentId, String managementId,
                  ManagementVerticle management, Invalidations invalidations, String updaterId) {
    this.vertx = vertx;
    this.services = services;
    this.deploymentId = deploymentId;
    this.managementId = managementId;
    this.management = management;
    this.invalidations = invalidations;
    this.updaterId = updaterId;
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
      if (config.events().webhook().enabled() && !config.events().kafka().enabled()) {
        throw new ConfigException("webhook.keys (OPENTIME_WEBHOOK_KEYS) is set but the webhook sends events to Kafka: "
            + "set kafka.bootstrap-servers (OPENTIME_KAFKA_BOOTSTRAP_SERVERS) too, or remove the webhook keys");
      }
      List<String> readOnlyFields = new ArrayList<>(config.segments().fields());
      readOnlyFields.addAll(Consent.FIELDS);
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
      EventMetrics eventMetrics = new EventMetrics(registry);
      KafkaConfig kafka = config.events().kafka();
      if (kafka.enabled()) {
        eventMetrics.topics(kafka.topics().opens(), kafka.topics().clicks(), kafka.topics().profileEvents(),
            kafka.topics().deadLetter());
      }
      services = new GatewayServices(config,
          new VerifiedTokens(new TokenCodec(config.tokenKeys(), clock), VERIFIED_TOKENS),
          new AmpCors(config.amp()),
          blocks,
          fragments,
          segments,
          recommender,
          store,
          new ProfileCache(config.cache(), store, ticker, metrics),
          metrics,
          new Consent(blocks.schema(), config.events().requireExplicitConsent()),
          new Links(config.events().links(), store, ticker),
          kafka.enabled() ? new EventPublisher(kafka, eventMetrics) : null,
          eventMetrics);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    if (!config.events().kafka().enabled()) {
      LOG.warn("no kafka.bootstrap-servers: opens and clicks are answered but not recorded, and no updater runs");
    }
    services.metrics().bind(services.cache().view(), services.store());
    ManagementVerticle management = new ManagementVerticle(config.management(), services.metrics(), services.store());
    DeploymentOptions options = new DeploymentOptions().setInstances(config.http().instances());
    Invalidations invalidations = new Invalidations(vertx, services.store().endpoints().subscriptions("invalidations"),
        config.events().updater().invalidationChannel(), config.redis().reconnectMaxDelay(),
        services.cache()::invalidate, services.eventMetrics());
    return invalidations.start()
        .compose(v -> vertx.deployVerticle(management))
        .compose(managementId -> vertx.deployVerticle(() -> new HttpVerticle(services, clock), options)
            .compose(id -> deployUpdater(vertx, services, clock)
                .map(updaterId -> new Gateway(vertx, services, id, managementId, management, invalidations, updaterId))
                .recover(err -> vertx.undeploy(id).transform(v -> Future.failedFuture(err))))
            .recover(err -> vertx.undeploy(managementId).transform(v -> Future.failedFuture(err))))
        .recover(err -> invalidations.close().eventually(() -> closePublisher(vertx, services))
            .transform(v -> Future.failedFuture(err)));
  }

  /** Deploys the profile updater when Kafka is configured and this process runs one; null id otherwise. */
  private static Future<String> deployUpdater(Vertx vertx, GatewayServices services, Clock clock) {
    GatewayConfig config = services.config();
    if (services.publisher() == null || !config.events().updater().enabled()) {
      return Future.succeededFuture(null);
    }
    // Each updater's Redis connection gets a metrics name of its own: a shared one collides in the registry.
    return vertx.deployVerticle(() -> new UpdaterVerticle(config.events().kafka(), config.events().updater(),
        config.redis(), services.store().endpoints().writes("updater-" + UPDATER_IDS.incrementAndGet()),
        services.publisher(), services.eventMetrics(), clock),
        new DeploymentOptions().setInstances(config.events().updater().instances()));
  }

  private static Future<Void> closePublisher(Vertx vertx, GatewayServices services) {
    EventPublisher publisher = services.publisher();
    if (publisher == null) {
      return Future.succeededFuture();
    }
    // Blocking (waits for Kafka to acknowledge what is queued, bounded): on a worker thread.
    return vertx.executeBlocking(() -> {
      publisher.close(PUBLISHER_FLUSH);
      return null;
    }, false);
  }

  /** The invalidation subscription (tests drop its connection to check it comes back). */
  public Invalidations invalidations() {
    return invalidations;
  }

  public GatewayServices services() {
    return services;
  }

  /** Starts the shutdown: readiness answers DRAINING while the servers keep serving. */
  public void beginDrain() {
    management.beginDrain();
  }

  /**
   * Stops the HTTP servers (in-flight requests finish within the drain timeout), then the updater (it commits what
   * it applied), the invalidation subscription, and the event publisher (queued events are handed to Kafka, waiting
   * up to {@link #PUBLISHER_FLUSH} for acknowledgements), and closes the Redis links.
   */
  public Future<Void> stop() {
    return vertx.undeploy(deploymentId)
        .eventually(() -> updaterId == null ? Future.succeededFuture() : vertx.undeploy(updaterId))
        .eventually(() -> vertx.undeploy(managementId))
        .eventually(invalidations::close)
        .eventually(() -> closePublisher(vertx, services))
        .eventually(() -> {
          services.store().close();
          services.metrics().close();
          return Future.succeededFuture();
        });
  }
}
