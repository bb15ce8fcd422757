package io.opentime.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.Main;
import io.opentime.demo.EmbeddedRedis;
import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The management port: exact counters after known traffic, and readiness following Redis. */
@ExtendWith(VertxExtension.class)
class ManagementTest {

  Vertx vertx;
  EmbeddedRedis redis;
  RunningGateway gw;

  @BeforeEach
  void setUp(Vertx v) throws Exception {
    vertx = v;
    redis = EmbeddedRedis.start(0);
    gw = new RunningGateway(vertx, TestConfig.forRedis(redis.url(), Map.of()));
  }

  @AfterEach
  void tearDown() {
    try {
      if (gw != null) {
        gw.close();
      }
    } finally {
      redis.close();
    }
  }

  static double sample(String metrics, String name, String labels) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name + "{" + labels + "}") + " (\\S+)$").matcher(metrics);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  @DisplayName("/metrics counts known traffic exactly, by block, source and reason, never by uid")
  void exactCounters() {
    gw.putProfile("m-ada", Map.of("first_name", "Ada"));
    gw.greeting("m-ada");                       // redis
    gw.greeting("m-ada");                       // cache
    gw.greeting("m-ada");                       // cache
    Http.get(gw.base() + "/v1/amp/greeting?t=forged", "AMP-Email-Sender", TestConfig.SENDER); // default, bad token
    Http.get(gw.ampUrl("greeting", "m-ada"));   // 403: no sender

    HttpResponse<String> r = Http.get(gw.management() + "/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    String m = r.body();
    String greeting = "block=\"greeting\",route=\"amp\",source=";
    assertThat(sample(m, "opentime_answers_total", greeting + "\"redis\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_answers_total", greeting + "\"cache\"")).isEqualTo(2.0);
    assertThat(sample(m, "opentime_answers_total", greeting + "\"default\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_answers_total", greeting + "\"stale\"")).isEqualTo(0.0);
    assertThat(sample(m, "opentime_fallbacks_total", "reason=\"bad_token\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_tokens_rejected_total", "reason=\"malformed\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_amp_cors_rejected_total", "route=\"amp\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_http_requests_seconds_count", "route=\"amp\"")).isEqualTo(4.0);
    assertThat(sample(m, "opentime_http_requests_seconds_bucket", "route=\"amp\",le=\"0.1\"")).isEqualTo(4.0);
    assertThat(sample(m, "cache_gets_total", "cache=\"profiles\",result=\"hit\"")).isGreaterThanOrEqualTo(2.0);
    assertThat(sample(m, "opentime_redis_reads_seconds_count", "command=\"hmget\",outcome=\"ok\"")).isEqualTo(1.0);
    assertThat(sample(m, "opentime_redis_reads_seconds_count", "command=\"hmget\",outcome=\"timeout\"")).isEqualTo(0.0);
    assertThat(m).contains("opentime_redis_breaker_state 0.0").contains("opentime_redis_connected 1.0")
        .contains("jvm_memory_used_bytes").contains("process_cpu_usage")
        .doesNotContain("m-ada").doesNotContain("uid");
  }

  @Test
  @DisplayName("readiness says DEGRADED while Redis is gone and UP again when it is back, live throughout")
  void readinessFollowsRedis() throws Exception {
    assertThat(ready().getString("status")).isEqualTo("UP");
    redis.kill();
    JsonObject degraded = awaitReady("DEGRADED");
    assertThat(degraded.getJsonObject("redis").getBoolean("connected")).isFalse();
    assertThat(Http.get(gw.management() + "/health/live").statusCode()).isEqualTo(200);
    redis.restart();
    gw.putProfile("m-back", Map.of("first_name", "Back"));
    gw.greeting("m-back"); // a read lets the breaker's probe close it if it had opened
    JsonObject up = awaitReady("UP");
    assertThat(up.getJsonObject("redis").getString("breaker")).isEqualTo("closed");
  }

  JsonObject ready() {
    HttpResponse<String> r = Http.get(gw.management() + "/health/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  JsonObject awaitReady(String status) {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    JsonObject last;
    do {
      last = ready();
      if (status.equals(last.getString("status"))) {
        return last;
      }
      gw.greeting("m-poll"); // traffic, so the breaker sees failures and probes
      Main.block(Future.<Void>future(p -> vertx.setTimer(50, id -> p.complete())));
    } while (System.nanoTime() < deadline);
    throw new AssertionError("readiness never became " + status + "; last " + last.encode());
  }
}
