package io.opentime.ops;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.opentime.config.ManagementConfig;
import io.opentime.profile.ProfileStore;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;

/**
 * The management server, on its own port: {@code GET /metrics} (Prometheus text format), {@code GET /health/live}
 * and {@code GET /health/ready}.
 *
 * <p>Readiness answers 503 once shutdown has begun (DRAINING). Otherwise it answers 200 as long as the gateway can
 * answer emails, which it can without Redis (from the cache and
 * defaults): taking every instance out of the load balancer because their shared Redis is down would turn a degraded
 * answer into no answer. The body says {@code UP} or {@code DEGRADED} and why, for dashboards and alerts.
 */
public final class ManagementVerticle extends VerticleBase {

  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final ManagementConfig config;
  private final GatewayMetrics metrics;
  private final ProfileStore store;
  private HttpServer server;
  private volatile boolean draining;
  private HealthChecks liveness;
  private HealthChecks readiness;

  public ManagementVerticle(ManagementConfig config, GatewayMetrics metrics, ProfileStore store) {
    this.config = config;
    this.metrics = metrics;
    this.store = store;
  }

  @Override
  public Future<?> start() {
    // Liveness: an event loop answers. Readiness: not draining; Redis reported, but not required (see above).
    liveness = HealthChecks.create(vertx).register("event-loop", p -> p.complete(Status.OK()));
    readiness = HealthChecks.create(vertx)
        .register("lifecycle", p -> p.complete(draining ? Status.KO(new JsonObject().put("draining", true)) : Status.OK()))
        .register("redis", p -> p.complete(Status.OK(redisState())));
    Router router = Router.router(vertx);
    router.get("/metrics").handler(this::metrics);
    router.get("/health/live").handler(this::live);
    router.get("/health/ready").handler(this::ready);
    return vertx.createHttpServer(new HttpServerOptions().setHost(config.host()).setPort(config.port())
            .setIdleTimeout(60))
        .requestHandler(router)
        .listen()
        .onSuccess(s -> server = s);
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  /** From now on readiness answers 503 DRAINING, so load balancers stop sending new requests. */
  public void beginDrain() {
    draining = true;
  }

  /** The port actually bound (differs from the configured one when that is 0). */
  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }

  private void metrics(RoutingContext ctx) {
    if (!(metrics.registry() instanceof PrometheusMeterRegistry prometheus)) {
      ctx.response().setStatusCode(404).end();
      return;
    }
    // Formatting every meter is milliseconds of work: keep it off the event loop.
    vertx.executeBlocking(prometheus::scrape, false)
        .onSuccess(text -> ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, PROMETHEUS_TEXT).end(text))
        .onFailure(ctx::fail);
  }

  private void live(RoutingContext ctx) {
    liveness.checkStatus().onComplete(ar -> {
      boolean up = ar.succeeded() && Boolean.TRUE.equals(ar.result().getUp());
      ctx.response().setStatusCode(up ? 200 : 503);
      json(ctx, new JsonObject().put("status", up ? "UP" : "DOWN"));
    });
  }

  private void ready(RoutingContext ctx) {
    readiness.checkStatus().onComplete(ar -> {
      if (ar.failed() || !Boolean.TRUE.equals(ar.result().getUp())) {
        ctx.response().setStatusCode(503);
        json(ctx, new JsonObject().put("status", "DRAINING"));
        return;
      }
      JsonObject redis = redisState();
      boolean healthy = redis.getBoolean("connected") && "closed".equals(redis.getString("breaker"));
      json(ctx, new JsonObject()
          .put("status", healthy ? "UP" : "DEGRADED")
          .put("redis", redis)
          .put("serving", healthy ? "profiles" : "cached profiles and defaults"));
    });
  }

  private JsonObject redisState() {
    CircuitBreakerState breaker = store.breakerState();
    return new JsonObject()
        .put("connected", store.connected())
        .put("breaker", breaker.name().toLowerCase(Locale.ROOT));
  }

  private static void json(RoutingContext ctx, JsonObject body) {
    ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(body.encode());
  }
}
