package io.opentime.load;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.rampUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.CheckBuilder;
import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.HttpRequestActionBuilder;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What every simulation shares: readers opening an AMP+HTML email, arriving in an open workload model (a rate of
 * opens per second, ramped then held, Poisson arrivals), each reader drawn from a Zipf distribution over the tokens
 * file. One open is what the email client does: the open pixel, the two {@code amp-list} calls of the AMP part
 * (greeting, recommendations, with the {@code AMP-Email-Sender} header), and for a fraction of opens the HTML
 * fragment of the offer block (a web view, or an ESP's connected content).
 *
 * <p>Before the measured load, an unmeasured warm-up ({@code warmup} seconds, ramping to {@code rate}) runs the same
 * opens with {@code silent()} requests, which Gatling leaves out of its statistics, reports and assertions: the
 * gateway, its clients and Gatling itself are JIT-compiled and connected before anything counts, as a gateway in
 * service is. It uses the {@code warmupTokens} readers (run.sh mints readers without a profile, so the measured readers
 * are not cached by it), else the main tokens, uniformly.
 *
 * <p>Subclasses pick the scenarios and the SLO defaults. Every parameter is a system property with a default; see
 * {@code load-tests/README.md}.
 */
public abstract class EmailOpenSimulation extends Simulation {

  /** Gmail's image proxy, so the pixel's open events say {@code "proxy":"gmail"}. */
  static final String GMAIL_IMAGE_PROXY =
      "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
  /** Printed when the first measured open starts; redis-trouble.sh times the Redis stall from it. */
  static final String MEASURED_MARKER = "measured load started";

  protected final String gateway = Props.string("gateway", "http://127.0.0.1:8080");
  protected final double rate = Props.decimal("rate", 1000, 0.01, 1_000_000);
  protected final int ramp = Props.integer("ramp", 5, 0);
  protected final int duration = Props.integer("duration", 30, 1);
  protected final int warmup = Props.integer("warmup", 10, 0);
  protected final String sender = Props.string("sender", "news@opentime.example");
  protected final double fragmentFraction = Props.decimal("fragmentFraction", 0.2, 0, 1);
  protected final double zipfExponent = Props.decimal("zipfExponent", 1.0, 0, 10);
  protected final long seed = Props.longValue("seed", 42);
  protected final boolean shareConnections = Props.bool("shareConnections", true);
  protected final String[] tokens = ReaderFile.load(Props.file("tokens", "out/tokens.txt"));
  protected final ZipfSampler readers = new ZipfSampler(tokens.length, zipfExponent, seed);
  protected final SourceTally sources = new SourceTally();
  private final SeededStream coin = new SeededStream(~seed);
  private final AtomicBoolean measuring = new AtomicBoolean();

  /** Which readers a scenario draws, and whether its requests count. */
  protected record Readers(String[] tokens, ZipfSampler sampler, boolean measured) {
  }

  /** The HTTP protocol: the gateway as base URL; nothing but the gateway is ever called. */
  protected HttpProtocolBuilder httpProtocol() {
    HttpProtocolBuilder protocol = http.baseUrl(gateway)
        .disableWarmUp()
        .disableCaching()
        .disableFollowRedirect();
    // Opens reach a gateway through the mail providers' proxies (Gmail's image and AMP proxies), which keep
    // connection pools: a shared pool models that; -DshareConnections=false gives every open its own connections.
    return shareConnections ? protocol.shareConnections() : protocol;
  }

  /** One email open: pixel, AMP greeting, AMP recommendations, sometimes the offer fragment. */
  protected ChainBuilder openEmail(Readers r) {
    return exec(session -> session
            .set("t", r.tokens()[r.sampler().next()])
            .set("fragment", coin.nextDouble() < fragmentFraction))
        .exec(counted(http("pixel").get("/v1/open/#{t}.gif")
            .header("User-Agent", GMAIL_IMAGE_PROXY)
            .check(status().is(200), header("Content-Type").is("image/gif")), r.measured()))
        .exec(amp("greeting", r))
        .exec(amp("recommendations", r))
        .doIf("#{fragment}").then(
            exec(counted(http("fragment offer").get("/v1/fragment/offer?t=#{t}")
                .check(status().is(200), source("fragment offer", r)), r.measured())));
  }

  private HttpRequestActionBuilder amp(String block, Readers r) {
    String name = "amp " + block;
    return counted(http(name).get("/v1/amp/" + block + "?t=#{t}")
        .header("AMP-Email-Sender", sender)
        .check(status().is(200), header("AMP-Email-Allow-Sender").is(sender), source(name, r)), r.measured());
  }

  /** Warm-up requests are silent: left out of Gatling's statistics, reports and assertions. */
  protected static HttpRequestActionBuilder counted(HttpRequestActionBuilder request, boolean measured) {
    return measured ? request : request.silent();
  }

  /** The answer's X-Opentime-Source must be present and known; measured ones are tallied for the summary. */
  private CheckBuilder.Final source(String request, Readers r) {
    return header("X-Opentime-Source").withDefault("(missing)")
        .transform(v -> r.measured() ? sources.count(request, v) : v)
        .in("redis", "cache", "stale", "default");
  }

  /** Open arrivals: ramp from 1/s to {@code perSecond} over {@code ramp} s, then hold it for {@code duration} s. */
  protected OpenInjectionStep[] arrivals(double perSecond) {
    List<OpenInjectionStep> steps = new ArrayList<>();
    if (ramp > 0) {
      steps.add(rampUsersPerSec(Math.min(1, perSecond)).to(perSecond).during(ramp).randomized());
    }
    steps.add(constantUsersPerSec(perSecond).during(duration).randomized());
    return steps.toArray(new OpenInjectionStep[0]);
  }

  /** Warm-up arrivals: ramp from 1/s to {@code perSecond} over {@code warmup} s. */
  protected OpenInjectionStep warmupArrivals(double perSecond) {
    return rampUsersPerSec(Math.min(1, perSecond)).to(perSecond).during(warmup).randomized();
  }

  /** The warm-up readers: {@code warmupTokens} (and {@code warmupUids}), else the main file's, uniformly. */
  protected Readers warmupReaders(String property, String defaultFile, String[] fallback) {
    Path file = Props.optionalFile(property, defaultFile);
    String[] values = file == null ? fallback : ReaderFile.load(file);
    return new Readers(values, new ZipfSampler(values.length, 0.0, seed + 2), false);
  }

  /** The opens: the silent warm-up (if any), then the measured arrivals. */
  protected PopulationBuilder opens() {
    ScenarioBuilder measured = scenario("email opens")
        .exec(session -> {
          if (measuring.compareAndSet(false, true)) {
            System.out.println(MEASURED_MARKER + " at " + LocalTime.now().truncatedTo(ChronoUnit.SECONDS));
          }
          return session;
        })
        .exec(openEmail(new Readers(tokens, readers, true)));
    PopulationBuilder population = measured.injectOpen(arrivals(rate));
    if (warmup == 0) {
      return population;
    }
    return scenario("warm-up opens").exec(openEmail(warmupReaders("warmupTokens", "out/warmup-tokens.txt", tokens)))
        .injectOpen(warmupArrivals(rate))
        .andThen(population);
  }

  /**
   * The SLO: at most {@code maxFailedPercent} % failed requests (default 0: the gateway never fails an open) and a
   * global p99 below {@code p99Ms}. Measured requests only (the warm-up is silent).
   */
  protected Assertion[] slo(int defaultP99Ms) {
    double maxFailedPercent = Props.decimal("maxFailedPercent", 0.0, 0, 100);
    int p99Ms = Props.integer("p99Ms", defaultP99Ms, 1);
    System.out.printf("SLO: failed requests <= %s%%, global p99 < %d ms%n", maxFailedPercent, p99Ms);
    return new Assertion[] {
        global().failedRequests().percent().lte(maxFailedPercent),
        global().responseTime().percentile(99.0).lt(p99Ms)
    };
  }

  protected void describeOpens() {
    System.out.printf("gateway %s; opens: %s/s (warm-up %d s, not measured; then ramp %d s and %d s measured), each = "
            + "pixel + amp greeting + amp recommendations + offer fragment for %.0f%%; sender %s; %s connections%n",
        gateway, rate, warmup, ramp, duration, 100 * fragmentFraction, sender,
        shareConnections ? "shared" : "per-open");
    System.out.println(readers.describe() + "; seed " + seed);
  }

  @Override
  public void after() {
    System.out.println(sources.summary());
  }
}
