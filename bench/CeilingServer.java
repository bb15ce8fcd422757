import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.Base64;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The "framework ceiling" for the Opentime benchmark: the cheapest Vert.x 5 HTTP server that returns the same bytes
 * as the gateway (status line, headers and body) with none of its work. Same Vert.x options as the gateway (one event
 * loop per core, native transport), one server verticle per core, a raw request handler (no router, no token, no
 * cache, no Redis), pre-built bodies and pre-encoded header values. Whatever the gateway does costs requests/s
 * relative to this.
 *
 * <p>Two answers, chosen by path alone: {@code /v1/open/...} gets the gateway's tracking pixel (the GIF and its
 * headers); anything else gets the greeting block's cache-hit answer to {@code bench@opentime.example}, with the
 * headers the gateway sends (AMP CORS, content type, no-store, nosniff, source and data age). {@code bench/run.sh}
 * checks that both match the gateway's answers byte for byte, apart from the age and source values.
 *
 * <p>Launch (Java 17 single-file source, the gateway jar supplies Vert.x):
 * {@code java -cp target/opentime-gateway.jar bench/CeilingServer.java PORT}. Listens on 127.0.0.1 only.
 */
public final class CeilingServer {

  static final Buffer BODY = Buffer.buffer("{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}");
  static final Buffer GIF = Buffer.buffer(Base64.getDecoder().decode(
      "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="));
  static final String OPEN_PREFIX = "/v1/open/";

  // The gateway's header names and values, in the gateway's order, encoded once.
  static final CharSequence ALLOW_SENDER = HttpHeaders.createOptimized("AMP-Email-Allow-Sender");
  static final CharSequence SENDER = HttpHeaders.createOptimized("bench@opentime.example");
  static final CharSequence JSON = HttpHeaders.createOptimized("application/json");
  static final CharSequence NO_STORE = HttpHeaders.createOptimized("private, no-store");
  static final CharSequence NOSNIFF_HEADER = HttpHeaders.createOptimized("X-Content-Type-Options");
  static final CharSequence NOSNIFF = HttpHeaders.createOptimized("nosniff");
  static final CharSequence SOURCE_HEADER = HttpHeaders.createOptimized("X-Opentime-Source");
  static final CharSequence CACHE = HttpHeaders.createOptimized("cache");
  static final CharSequence AGE_HEADER = HttpHeaders.createOptimized("X-Opentime-Data-Age");
  static final CharSequence AGE = HttpHeaders.createOptimized("0");
  static final CharSequence IMAGE_GIF = HttpHeaders.createOptimized("image/gif");
  static final CharSequence GIF_LENGTH = HttpHeaders.createOptimized(Integer.toString(GIF.length()));
  static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache, no-store, must-revalidate, max-age=0");
  static final CharSequence PRAGMA = HttpHeaders.createOptimized("Pragma");
  static final CharSequence NO_CACHE_PRAGMA = HttpHeaders.createOptimized("no-cache");
  static final CharSequence EXPIRES_NOW = HttpHeaders.createOptimized("0");

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java -cp opentime-gateway.jar bench/CeilingServer.java PORT");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    int cores = Runtime.getRuntime().availableProcessors();
    Vertx vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(cores).setPreferNativeTransport(true))
        .build();
    try {
      // Waited for here, on the main thread: never exit from an event loop.
      vertx.deployVerticle(() -> new Ceiling(port), new DeploymentOptions().setInstances(cores))
          .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      System.err.println("ceiling failed to start: " + (e.getCause() == null ? e : e.getCause()));
      close(vertx);
      System.exit(1);
    }
    System.err.println("ceiling listening on 127.0.0.1:" + port + " (" + cores + " instances, native transport: "
        + vertx.isNativeTransportEnabled() + ")");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> close(vertx), "ceiling-shutdown"));
  }

  private static void close(Vertx vertx) {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // exiting anyway
    }
  }

  static void answer(HttpServerRequest req) {
    HttpServerResponse response = req.response();
    if (req.path().startsWith(OPEN_PREFIX)) {
      response.putHeader(HttpHeaders.CONTENT_TYPE, IMAGE_GIF)
          .putHeader(HttpHeaders.CONTENT_LENGTH, GIF_LENGTH)
          .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
          .putHeader(PRAGMA, NO_CACHE_PRAGMA)
          .putHeader(HttpHeaders.EXPIRES, EXPIRES_NOW)
          .end(GIF);
    } else {
      response.putHeader(ALLOW_SENDER, SENDER)
          .putHeader(HttpHeaders.CONTENT_TYPE, JSON)
          .putHeader(HttpHeaders.CACHE_CONTROL, NO_STORE)
          .putHeader(NOSNIFF_HEADER, NOSNIFF)
          .putHeader(SOURCE_HEADER, CACHE)
          .putHeader(AGE_HEADER, AGE)
          .end(BODY);
    }
  }

  static final class Ceiling extends VerticleBase {
    private final int port;

    Ceiling(int port) {
      this.port = port;
    }

    @Override
    public Future<?> start() {
      HttpServerOptions options = new HttpServerOptions()
          .setHost("127.0.0.1")
          .setPort(port)
          .setTcpNoDelay(true)
          .setCompressionSupported(false);
      return vertx.createHttpServer(options)
          .requestHandler(CeilingServer::answer)
          .listen();
    }
  }
}
