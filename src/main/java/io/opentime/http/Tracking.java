package io.opentime.http;

import io.opentime.GatewayServices;
import io.opentime.events.EventPublisher;
import io.opentime.events.TrackingEvent;
import io.opentime.ops.EventMetrics;
import io.opentime.profile.ProfileLookup;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenVerification;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.time.Clock;
import java.util.Base64;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open pixel and click redirects. Both answer before anything is recorded: the event goes out afterwards, and
 * only if the token is genuine and the reader's profile (cache, else Redis within its deadline) says tracking is
 * allowed. What is not recorded is counted by reason.
 */
final class Tracking {

  private static final Logger LOG = LoggerFactory.getLogger(Tracking.class);
  static final String OPEN_PREFIX = "/v1/open/";
  static final String OPEN_SUFFIX = ".gif";
  static final String CLICK_PREFIX = "/v1/click/";
  static final String OPEN = "open";
  static final String CLICK = "click";

  /** The canonical 43-byte transparent 1x1 GIF. */
  static final byte[] GIF = Base64.getDecoder().decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");
  private static final Buffer GIF_BUFFER = Buffer.buffer(GIF);
  private static final CharSequence IMAGE_GIF = HttpHeaders.createOptimized("image/gif");
  private static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache, no-store, must-revalidate, max-age=0");
  private static final CharSequence PRAGMA = HttpHeaders.createOptimized("Pragma");
  private static final CharSequence NO_CACHE_PRAGMA = HttpHeaders.createOptimized("no-cache");
  private static final CharSequence EXPIRES_NOW = HttpHeaders.createOptimized("0");
  private static final CharSequence GIF_LENGTH = HttpHeaders.createOptimized(Integer.toString(GIF.length));
  private static final CharSequence REFERRER_POLICY = HttpHeaders.createOptimized("Referrer-Policy");
  private static final CharSequence NO_REFERRER = HttpHeaders.createOptimized("no-referrer");
  private static final Buffer UNKNOWN_LINK = Buffer.buffer("{\"error\":\"unknown link\"}");
  private static final Buffer LINK_UNAVAILABLE =
      Buffer.buffer("{\"error\":\"the link cannot be looked up right now; try again in a moment\"}");

  private final GatewayServices services;
  private final EventMetrics metrics;
  private final Clock clock;

  Tracking(GatewayServices services, Clock clock) {
    this.services = services;
    this.metrics = services.eventMetrics();
    this.clock = clock;
  }

  /** {@code GET /v1/open/{token}.gif}: the GIF at once, whatever the token, Redis or Kafka; then maybe an event. */
  void open(HttpServerRequest request, String token) {
    HttpServerResponse response = request.response();
    response.putHeader(HttpHeaders.CONTENT_TYPE, IMAGE_GIF)
        .putHeader(HttpHeaders.CONTENT_LENGTH, GIF_LENGTH)
        .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
        .putHeader(PRAGMA, NO_CACHE_PRAGMA)
        .putHeader(HttpHeaders.EXPIRES, EXPIRES_NOW)
        .end(GIF_BUFFER);
    TokenClaims claims = verified(token, OPEN);
    if (claims != null) {
      String userAgent = request.getHeader(HttpHeaders.USER_AGENT);
      record(OPEN, claims, services.config().events().kafka().topics().opens(),
          () -> TrackingEvent.open(claims.uid(), claims.campaign(), clock.instant(), userAgent));
    }
  }

  /**
   * {@code GET /v1/click/{token}}: 302 to the target of the link the token names. A forged, expired or link-less
   * token, or an unknown link id, is a 404: the gateway redirects only to targets it was configured with.
   */
  void click(HttpServerRequest request, String token) {
    HttpServerResponse response = request.response();
    TokenClaims claims = verified(token, CLICK);
    if (claims == null || claims.link() == null) {
      notFound(response);
      return;
    }
    String userAgent = request.getHeader(HttpHeaders.USER_AGENT);
    services.links().resolve(claims.link()).onComplete(ar -> {
      Optional<String> target;
      if (ar.succeeded()) {
        if (ar.result().isEmpty()) {
          notFound(response);
          return;
        }
        target = ar.result();
      } else {
        target = services.links().fallback();
        if (target.isEmpty()) {
          LOG.debug("link lookup failed: {}", ar.cause().getMessage());
          answer(response, 503, LINK_UNAVAILABLE);
          return;
        }
      }
      if (!response.ended() && !response.closed()) {
        response.setStatusCode(302)
            .putHeader(HttpHeaders.LOCATION, target.get())
            .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
            .putHeader(REFERRER_POLICY, NO_REFERRER)
            .end();
      }
      record(CLICK, claims, services.config().events().kafka().topics().clicks(),
          () -> TrackingEvent.click(claims.uid(), claims.campaign(), claims.link(), clock.instant(), userAgent));
    });
  }

  private TokenClaims verified(String token, String kind) {
    TokenVerification v;
    try {
      v = services.tokens().verify(token);
    } catch (RuntimeException e) {
      LOG.error("unexpected failure verifying a {} token", kind, e);
      metrics.notTracked(kind, "bad_token");
      return null;
    }
    if (!v.valid()) {
      services.metrics().tokenRejected(v.rejection());
      metrics.notTracked(kind, "bad_token");
      return null;
    }
    return v.claims();
  }

  /** Records the event if events are on and the reader's consent to tracking can be read and is given. */
  private void record(String kind, TokenClaims claims, String topic, java.util.function.Supplier<byte[]> event) {
    EventPublisher publisher = services.publisher();
    if (publisher == null) {
      metrics.notTracked(kind, "events_off");
      return;
    }
    Future<ProfileLookup> known = services.cache().lookup(claims.uid());
    known.onComplete(ar -> {
      ProfileLookup lookup = ar.succeeded() ? ar.result() : null;
      if (lookup == null || lookup.profile() == null) {
        metrics.notTracked(kind, "consent_unknown");
      } else if (!services.consent().tracking(lookup.profile())) {
        metrics.notTracked(kind, "no_consent");
      } else if (publisher.offer(topic, claims.uid(), event.get())) {
        metrics.tracked(kind);
      } else {
        metrics.notTracked(kind, "queue_full");
      }
    });
  }

  private static void notFound(HttpServerResponse response) {
    answer(response, 404, UNKNOWN_LINK);
  }

  private static void answer(HttpServerResponse response, int status, Buffer body) {
    if (response.ended() || response.closed()) {
      return;
    }
    response.setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
        .end(body.copy());
  }
}
