import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The "framework ceiling" for the Opentime benchmark: the cheapest Vert.x 5 HTTP server that gives the same answer as
 * the gateway's greeting block on a cache hit. Same Vert.x options as the gateway (one event loop per core, native
 * transport), one server verticle per core, a raw request handler (no router, no token, no cache), a pre-built body
 * and pre-encoded headers. Whatever the gateway does costs requests/s relative to this.
 *
 * <p>Launch (Java 17 single-file source, the gateway jar supplies Vert.x):
 * {@code java -cp target/opentime-gateway.jar bench/CeilingServer.java PORT}. Listens on 127.0.0.1 only.
 */
public final class CeilingServer {

  static final Buffer BODY = Buffer.buffer("{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}");
  static final CharSequence JSON = HttpHeaders.createOptimized("application/json");

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
          .requestHandler(req -> req.response().putHeader(HttpHeaders.CONTENT_TYPE, JSON).end(BODY))
          .listen();
    }
  }
}
