package io.opentime.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.opentime.GatewayServices;
import io.opentime.config.HttpConfig;
import io.opentime.content.Block;
import io.opentime.content.FragmentTemplates;
import io.opentime.content.Product;
import io.opentime.profile.FallbackReason;
import io.opentime.profile.ProfileLookup;
import io.opentime.profile.RedisLink;
import io.opentime.profile.Source;
import io.opentime.token.TokenVerification;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.RoutingContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public HTTP server. One instance runs per event loop, each with its own pipelined Redis connection; the
 * profile cache, token codec and blocks are shared.
 *
 * <p>{@code GET /v1/amp/{block}?t=TOKEN}: AMP CORS check (403 if refused), token check (defaults if bad), profile
 * lookup (cache, Redis within its deadline, stale, or defaults), variant, JSON. {@code GET /v1/fragment/{block}}:
 * the same without AMP CORS, rendered with the block's template. Every answer past those checks is a 200 with
 * {@code Cache-Control: private, no-store}; nothing on these routes redirects or answers 5xx.
 */
public final class HttpVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(HttpVerticle.class);
  private static final Logger ACCESS = LoggerFactory.getLogger("opentime.access");
  public static final String AMP_ROUTE = "amp";
  public static final String FRAGMENT_ROUTE = "fragment";
  private static final String AMP_PREFIX = "/v1/amp/";
  private static final String FRAGMENT_PREFIX = "/v1/fragment/";
  private static final AtomicInteger LINK_IDS = new AtomicInteger();

  static final CharSequence SOURCE_HEADER = HttpHeaders.createOptimized("X-Opentime-Source");
  static final CharSequence AGE_HEADER = HttpHeaders.createOptimized("X-Opentime-Data-Age");
  private static final CharSequence JSON = HttpHeaders.createOptimized("application/json");
  private static final CharSequence HTML = HttpHeaders.createOptimized("text/html; charset=utf-8");
  private static final CharSequence NO_STORE = HttpHeaders.createOptimized("private, no-store");
  private static final CharSequence NOSNIFF_HEADER = HttpHeaders.createOptimized("X-Content-Type-Options");
  private static final CharSequence NOSNIFF = HttpHeaders.createOptimized("nosniff");
  private static final CharSequence[] SOURCE_VALUES = new CharSequence[Source.values().length];

  static {
    for (Source s : Source.values()) {
      SOURCE_VALUES[s.ordinal()] = HttpHeaders.createOptimized(s.tag());
    }
  }

  private static final Buffer SENDER_NOT_ALLOWED = error("sender not allowed: AMP-Email-Sender (or Origin and "
      + "__amp_source_origin) must name an allowed sender");
  private static final Buffer UNKNOWN_BLOCK = error("unknown block");
  private static final Buffer UNKNOWN_FRAGMENT = error("unknown fragment: no block of that name has a template");
  private static final Buffer NOT_FOUND = error("not found");
  private static final Buffer METHOD_NOT_ALLOWED = error("method not allowed");
  private static final Buffer BAD_REQUEST = error("bad request");
  private static final Buffer INTERNAL = error("internal error");
  private static final Buffer TOO_LARGE = error("request body too large");

  private final GatewayServices services;
  private final Map<String, AmpBlock> ampBlocks = new HashMap<>();
  private final ProfileLookup badToken = ProfileLookup.fallback(FallbackReason.BAD_TOKEN);
  private RedisLink link;
  private HttpServer server;

  private record AmpBlock(Block block, Counter[] answers) {
  }

  private record FragmentBlock(Block block, FragmentTemplates.Compiled template, Counter[] answers) {
  }

  private final Map<String, FragmentBlock> fragmentBlocks = new HashMap<>();
  private final Timer fragmentTimer;

  private final Timer ampTimer;
  private final boolean accessLog;

  private final Tracking tracking;
  private final Webhook webhook;
  private final ProfileLookup noConsent = ProfileLookup.fallback(FallbackReason.NO_CONSENT);

  public HttpVerticle(GatewayServices services, Clock clock) {
    this.services = services;
    this.tracking = new Tracking(services, clock);
    this.webhook = services.config().events().webhook().enabled() ? new Webhook(services, clock) : null;
    this.ampTimer = services.metrics().requestTimer(AMP_ROUTE);
    this.fragmentTimer = services.metrics().requestTimer(FRAGMENT_ROUTE);
    services.fragments().all().forEach((name, template) -> fragmentBlocks.put(name, new FragmentBlock(
        services.blocks().get(name), template, services.metrics().answerCounters(FRAGMENT_ROUTE, name))));
    this.accessLog = services.config().http().accessLog();
    services.blocks().all().forEach((name, block) ->
        ampBlocks.put(name, new AmpBlock(block, services.metrics().answerCounters(AMP_ROUTE, name))));
  }

  @Override
  public Future<?> start() {
    int linkId = LINK_IDS.incrementAndGet();
    link = new RedisLink(vertx, services.store().redisOptions("profiles-" + linkId),
        services.config().redis().reconnectMaxDelay(), "#" + linkId, true, services.config().redis().batchWindow());
    services.store().register(link);
    HttpConfig http = services.config().http();
    HttpServerOptions options = new HttpServerOptions()
        .setHost(http.host())
        .setPort(http.port())
        .setIdleTimeout((int) http.idleTimeout().toSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setMaxInitialLineLength(4096)
        .setMaxHeaderSize(8192)
        .setCompressionSupported(false)
        .setTcpNoDelay(true);
    return link.start()
        .compose(v -> vertx.createHttpServer(options).requestHandler(dispatcher(router())).listen())
        .onSuccess(s -> server = s)
        .onFailure(err -> {
          // Vert.x does not call stop() on a verticle whose start failed: release the link here.
          services.store().unregister(link);
          link.close();
        });
  }

  @Override
  public Future<?> stop() {
    services.store().unregister(link);
    // Graceful: stop accepting, let in-flight requests finish (each connection closes after its answer).
    long drainMs = services.config().http().drainTimeout().toMillis();
    Future<Void> closing = server == null ? Future.succeededFuture() : server.shutdown(drainMs, TimeUnit.MILLISECONDS);
    return closing.eventually(() -> link.close());
  }

  /**
   * The hot routes bypass the router: a GET whose raw path is exactly {@code /v1/amp/<configured block>} or
   * {@code /v1/fragment/<block with a template>} is answered directly (profiling showed the router's per-request context and matching at about a seventh of a
   * cache-hit answer). Anything else, including encoded or unusual paths, goes through the router as usual.
   */
  private Handler<HttpServerRequest> dispatcher(Router router) {
    return request -> {
      if (request.method() == HttpMethod.GET) {
        String path = request.path();
        if (path.startsWith(AMP_PREFIX)) {
          AmpBlock ab = ampBlocks.get(path.substring(AMP_PREFIX.length()));
          if (ab != null) {
            amp(request, ab);
            return;
          }
        } else if (path.startsWith(FRAGMENT_PREFIX)) {
          FragmentBlock fb = fragmentBlocks.get(path.substring(FRAGMENT_PREFIX.length()));
          if (fb != null) {
            fragment(request, fb);
            return;
          }
        } else if (path.startsWith(Tracking.OPEN_PREFIX) && path.endsWith(Tracking.OPEN_SUFFIX)) {
          // Any path of that shape gets the GIF: a mangled token must not break the email's image.
          tracking.open(request, path.substring(Tracking.OPEN_PREFIX.length(), path.length() - Tracking.OPEN_SUFFIX.length()));
          return;
        } else if (path.startsWith(Tracking.CLICK_PREFIX)) {
          tracking.click(request, path.substring(Tracking.CLICK_PREFIX.length()));
          return;
        }
      }
      router.handle(request);
    };
  }

  private Router router() {
    Router router = Router.router(vertx);
    router.get(AMP_PREFIX + ":block").handler(this::amp);
    router.get(FRAGMENT_PREFIX + ":block").handler(ctx -> {
      FragmentBlock fb = fragmentBlocks.get(ctx.pathParam("block"));
      if (fb == null) {
        plain(ctx.response(), 404, UNKNOWN_FRAGMENT);
      } else {
        fragment(ctx.request(), fb);
      }
    });
    if (webhook != null) {
      router.post(Webhook.PATH)
          .handler(BodyHandler.create(false).setBodyLimit(services.config().events().webhook().maxBodyBytes()))
          .handler(webhook::handle);
    }
    router.errorHandler(404, ctx -> plain(ctx.response(), 404, NOT_FOUND));
    router.errorHandler(413, ctx -> plain(ctx.response(), 413, TOO_LARGE));
    router.errorHandler(405, ctx -> plain(ctx.response(), 405, METHOD_NOT_ALLOWED));
    router.errorHandler(400, ctx -> plain(ctx.response(), 400, BAD_REQUEST));
    router.errorHandler(500, ctx -> {
      LOG.error("unhandled failure on {}", ctx.currentRoute() == null ? "?" : ctx.currentRoute().getPath(), ctx.failure());
      plain(ctx.response(), 500, INTERNAL);
    });
    return router;
  }

  private void amp(RoutingContext ctx) {
    AmpBlock ab = ampBlocks.get(ctx.pathParam("block"));
    if (ab == null) {
      plain(ctx.response(), 404, UNKNOWN_BLOCK);
      return;
    }
    amp(ctx.request(), ab);
  }

  private void amp(HttpServerRequest request, AmpBlock ab) {
    long started = System.nanoTime();
    HttpServerResponse response = request.response();
    String token;
    try {
      token = tokenParam(request);
      if (!services.cors().apply(request, response)) {
        services.metrics().corsRejected(AMP_ROUTE);
        plain(response, 403, SENDER_NOT_ALLOWED);
        return;
      }
    } catch (IllegalArgumentException malformedQuery) {
      plain(response, 400, BAD_REQUEST); // e.g. a bad % escape; no header has been set yet
      return;
    }
    lookup(token, ab.block(), lookup -> {
      if (ab.block().recommend() > 0) {
        services.recommender().recommend(lookup.profile(), ab.block().recommend())
            .onComplete(ar -> answer(response, ab, lookup, started,
                Block.renderProducts(ar.succeeded() ? ar.result() : java.util.List.of())));
      } else {
        answer(response, ab, lookup, started, ab.block().renderJson(lookup.profile(), variant(ab.block(), lookup)));
      }
    });
  }

  /**
   * Token, then profile: hands the answer what is known of the reader. Never fails: a bad token, an unavailable
   * profile or an unexpected error all become a default lookup, because the email must still get an answer.
   */
  private void lookup(String token, Block block, Consumer<ProfileLookup> then) {
    Future<ProfileLookup> known;
    try {
      TokenVerification verified = services.tokens().verify(token);
      if (verified.valid()) {
        known = services.cache().lookup(verified.claims().uid());
      } else {
        services.metrics().tokenRejected(verified.rejection());
        known = Future.succeededFuture(badToken);
      }
    } catch (RuntimeException e) {
      LOG.error("unexpected failure answering block {}; answering defaults", block.name(), e);
      known = Future.succeededFuture(ProfileLookup.fallback(FallbackReason.ERROR));
    }
    // Outside the try: an answer that throws must not be answered a second time.
    known.onComplete(ar -> then.accept(ar.succeeded() ? withConsent(ar.result()) : ProfileLookup.fallback(FallbackReason.ERROR)));
  }

  /** A reader who withdrew consent to personalization gets the defaults, like a reader we know nothing of. */
  private ProfileLookup withConsent(ProfileLookup lookup) {
    return lookup.profile() == null || services.consent().personalization(lookup.profile()) ? lookup : noConsent;
  }

  /**
   * {@code GET /v1/fragment/{block}?t=TOKEN}: the block's template rendered for the reader, HTML-escaped, from the
   * same lookup as the AMP route. For ESPs fetching at send time and web views: no AMP CORS, but the token is
   * required as everywhere. A bad token, missing data or a failed render answers the default fragment (200).
   */
  private void fragment(HttpServerRequest request, FragmentBlock fb) {
    long started = System.nanoTime();
    HttpServerResponse response = request.response();
    String token;
    try {
      token = tokenParam(request);
    } catch (IllegalArgumentException malformedQuery) {
      plain(response, 400, BAD_REQUEST);
      return;
    }
    lookup(token, fb.block(), lookup -> {
      if (fb.block().recommend() > 0) {
        services.recommender().recommend(lookup.profile(), fb.block().recommend())
            .onComplete(ar -> answerFragment(response, fb, lookup, started,
                ar.succeeded() ? ar.result() : java.util.List.of()));
      } else {
        answerFragment(response, fb, lookup, started, null);
      }
    });
  }

  private void answerFragment(HttpServerResponse response, FragmentBlock fb, ProfileLookup lookup, long started,
                              List<Product> products) {
    String html;
    ProfileLookup answered = lookup;
    int defaultedVariant = lookup.profile() == null ? variant(fb.block(), lookup) : -1;
    if (lookup.profile() == null && defaultedVariant < 0 && products == null) {
      html = fb.template().defaultFragment();
    } else {
      try {
        int variant = lookup.profile() == null ? defaultedVariant : variant(fb.block(), lookup);
        Map<String, String> fields = fb.block().fields(lookup.profile(), variant);
        Map<String, ?> scope = fields;
        if (products != null) {
          Map<String, Object> withProducts = new HashMap<>(fields);
          withProducts.put("products", products); // records: mustache reads name(), price(), ... directly
          scope = withProducts;
        }
        html = fb.template().render(scope, variant);
      } catch (RuntimeException e) {
        LOG.warn("template {} failed to render; answering the default fragment: {}", fb.template().file(),
            e.getMessage());
        html = fb.template().defaultFragment();
        answered = ProfileLookup.fallback(FallbackReason.RENDER_ERROR);
      }
    }
    send(response, HTML, Buffer.buffer(html), answered, fb.answers(), fragmentTimer, FRAGMENT_ROUTE, fb.block(), started);
  }

  /** Seconds since the profile data used was read from Redis; absent when none was used (defaults). */
  private void putAge(HttpServerResponse response, ProfileLookup lookup) {
    if (lookup.profile() != null) {
      response.putHeader(AGE_HEADER, Long.toString(services.cache().ageSeconds(lookup.profile())));
    }
  }

  /** The block variant for this answer (-1: the default variant). */
  private int variant(Block block, ProfileLookup lookup) {
    return block.variantFor(lookup, services.segments(), services.blocks().schema());
  }

  /**
   * The {@code t} query parameter. Tokens only use characters that never need percent-encoding, so the raw value is
   * taken as it stands when it has no escape; anything else goes through the full query decoder. (Decoding every
   * parameter into a map was 7% of a cache-hit answer.)
   */
  private static String tokenParam(HttpServerRequest request) {
    String query = request.query();
    if (query == null) {
      return null;
    }
    String raw = rawTokenParam(query);
    return raw != null ? raw : request.getParam("t");
  }

  /**
   * The {@code t} value of a raw query string that starts with it, when it can be taken without decoding; else null
   * (not first, escaped, or next to a separator the decoder treats specially) and the caller asks the decoder.
   */
  static String rawTokenParam(String query) {
    if (!query.startsWith("t=")) {
      return null; // emails put t first; anything else is decoded in full
    }
    int start = 2;
    int end = query.indexOf('&', start);
    String raw = end < 0 ? query.substring(start) : query.substring(start, end);
    if (raw.indexOf('%') >= 0 || raw.indexOf('+') >= 0 || raw.indexOf(';') >= 0) {
      return null;
    }
    return raw;
  }

  private void answer(HttpServerResponse response, AmpBlock ab, ProfileLookup lookup, long started, Buffer body) {
    send(response, JSON, body, lookup, ab.answers(), ampTimer, AMP_ROUTE, ab.block(), started);
  }

  /** Writes a 200 answer with the common headers, and counts, times and (optionally) logs it. */
  private void send(HttpServerResponse response, CharSequence contentType, Buffer body, ProfileLookup lookup,
                    Counter[] answers, Timer timer, String route, Block block, long started) {
    services.metrics().answered(answers, lookup.source(), lookup.reason());
    if (response.ended() || response.closed()) {
      return;
    }
    response.putHeader(HttpHeaders.CONTENT_TYPE, contentType)
        .putHeader(HttpHeaders.CACHE_CONTROL, NO_STORE)
        .putHeader(NOSNIFF_HEADER, NOSNIFF)
        .putHeader(SOURCE_HEADER, SOURCE_VALUES[lookup.source().ordinal()]);
    putAge(response, lookup);
    response.end(body);
    long nanos = System.nanoTime() - started;
    timer.record(nanos, TimeUnit.NANOSECONDS);
    if (accessLog) {
      ACCESS.info("route={} block={} status=200 source={} reason={} micros={}", route, block.name(),
          lookup.source().tag(), lookup.reason() == null ? "-" : lookup.reason().tag(), nanos / 1000);
    }
  }

  private void plain(HttpServerResponse response, int status, Buffer body) {
    if (response.ended() || response.closed()) {
      return;
    }
    if (accessLog) {
      ACCESS.info("status={}", status);
    }
    response.setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, JSON)
        .putHeader(HttpHeaders.CACHE_CONTROL, NO_STORE)
        .putHeader(NOSNIFF_HEADER, NOSNIFF)
        .end(body.copy());
  }

  private static Buffer error(String message) {
    return Buffer.buffer("{\"error\":\"" + message + "\"}");
  }
}
