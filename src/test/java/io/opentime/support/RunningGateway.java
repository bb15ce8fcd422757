package io.opentime.support;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.opentime.Gateway;
import io.opentime.Main;
import io.opentime.config.GatewayConfig;
import io.opentime.profile.RedisEndpoints;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenCodec;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * A real gateway on a free port for one test class, with a fake cache clock and its own meter registry, plus a small
 * Redis client to arrange profiles. All methods block: call them from the test thread.
 */
public final class RunningGateway implements AutoCloseable {

  public final Vertx vertx;
  public final GatewayConfig config;
  public final FakeTicker ticker = new FakeTicker();
  public final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  public final Gateway gateway;
  private final TokenCodec codec;
  private final Redis redis;

  public RunningGateway(Vertx vertx, GatewayConfig config) {
    this.vertx = vertx;
    this.config = config;
    this.gateway = Main.block(Gateway.start(vertx, config, registry, Clock.systemUTC(), ticker));
    this.codec = new TokenCodec(config.tokenKeys(), Clock.systemUTC());
    // writes go to the master of each key, whatever the deployment (standalone, Sentinel or Cluster)
    this.redis = Redis.createClient(vertx, new RedisEndpoints(config.redis()).writes("test-arrange"));
  }

  /** A gateway on the shipped configuration and the run's shared Redis. */
  public static RunningGateway onSharedRedis(Vertx vertx) {
    return new RunningGateway(vertx, TestConfig.forRedis(TestRedis.shared().url(), Map.of()));
  }

  public String management() {
    return "http://127.0.0.1:" + gateway.managementPort();
  }

  public String base() {
    return "http://127.0.0.1:" + config.http().port();
  }

  public String token(String uid) {
    return codec.mint(new TokenClaims(uid, "test", Clock.systemUTC().instant().plus(Duration.ofDays(1)).getEpochSecond()));
  }

  public String ampUrl(String block, String uid) {
    return base() + "/v1/amp/" + block + "?t=" + token(uid);
  }

  /** GET /v1/amp/greeting for a reader, as Gmail sends it (AMP CORS v2). */
  public HttpResponse<String> greeting(String uid) {
    return Http.get(ampUrl("greeting", uid), "AMP-Email-Sender", TestConfig.SENDER);
  }

  public void putProfile(String uid, Map<String, String> fields) {
    Request hset = Request.cmd(Command.HSET).arg(config.redis().profileKey(uid));
    fields.forEach((k, v) -> hset.arg(k).arg(v));
    Main.block(redis.send(hset));
  }

  /** Sends any command to the gateway's Redis. */
  public Response send(Request request) {
    return Main.block(redis.send(request));
  }

  /** Total HMGET calls Redis has served so far (INFO commandstats). */
  public long hmgetCalls() {
    return calls("hmget");
  }

  /** Total calls of a command (lower case) Redis has served so far (INFO commandstats). */
  public long calls(String command) {
    Response info = Main.block(redis.send(Request.cmd(Command.INFO).arg("commandstats")));
    for (String line : info.toString().split("\r?\n")) {
      if (line.startsWith("cmdstat_" + command + ":")) {
        return Long.parseLong(line.replaceAll("^cmdstat_" + command + ":calls=(\\d+),.*", "$1"));
      }
    }
    return 0;
  }

  public double counter(String name, String... tags) {
    var c = registry.find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  @Override
  public void close() {
    try {
      Main.block(gateway.stop());
    } finally {
      Main.block(redis.close());
    }
  }
}
