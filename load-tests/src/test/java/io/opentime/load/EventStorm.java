package io.opentime.load;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * The opens of {@link CampaignBurst} while profile updates flow in through the signed webhook: {@code eventRate}
 * batches per second of {@code batchSize} events (attribute, page_view, cart_add) for readers of the same Zipf
 * distribution over the uids file, so the readers being updated are the ones opening (each applied update drops their
 * cached profile in every gateway). Expects {@code 202} for every batch (Kafka acknowledged all events). SLO
 * defaults: no failed request, global p99 below 50 ms, events batch p99 below {@code eventsP99Ms} (250 ms).
 */
public class EventStorm extends EmailOpenSimulation {

  private final double eventRate = Props.decimal("eventRate", 20, 0.01, 100_000);
  private final int batchSize = Props.integer("batchSize", 50, 1);
  private final int eventsP99Ms = Props.integer("eventsP99Ms", 250, 1);
  private final String[] uids = ReaderFile.load(Props.file("uids", "out/uids.txt"));

  {
    if (uids.length != tokens.length) {
      System.out.printf("note: %,d uids but %,d tokens: line i of both should be the same reader%n", uids.length,
          tokens.length);
    }
    EventBatches batches = new EventBatches(EventBatches.WebhookKey.fromPropertyOrEnv(), uids,
        new ZipfSampler(uids.length, zipfExponent, seed + 1), batchSize, seed);
    describeOpens();
    System.out.printf("events: %s batches/s of %d events (%s events/s) to POST /v1/events, signed with key id %s%n",
        eventRate, batchSize, eventRate * batchSize, batches.kid());

    PopulationBuilder events = events(batches, true).injectOpen(arrivals(eventRate));
    if (warmup > 0) {
      Readers warm = warmupReaders("warmupUids", "out/warmup-uids.txt", uids);
      EventBatches warmBatches = new EventBatches(EventBatches.WebhookKey.fromPropertyOrEnv(), warm.tokens(),
          warm.sampler(), batchSize, seed + 3);
      events = events(warmBatches, false).injectOpen(warmupArrivals(eventRate)).andThen(events);
    }

    List<Assertion> assertions = new ArrayList<>(List.of(slo(50)));
    assertions.add(details("events batch").responseTime().percentile(99.0).lt(eventsP99Ms));
    System.out.printf("SLO: events batch p99 < %d ms%n", eventsP99Ms);
    setUp(opens(), events).protocols(httpProtocol()).assertions(assertions);
  }

  /** Signed batches to POST /v1/events, each expecting 202; silent (not counted) for the warm-up. */
  private ScenarioBuilder events(EventBatches batches, boolean measured) {
    return scenario(measured ? "profile events" : "warm-up events")
        .exec(session -> {
          EventBatches.Signed signed = batches.next();
          return session.set("body", signed.body()).set("ts", signed.timestamp()).set("sig", signed.signature());
        })
        .exec(counted(http("events batch").post("/v1/events")
            .header("Content-Type", "application/json")
            .header("Opentime-Timestamp", "#{ts}")
            .header("Opentime-Signature", "#{sig}")
            .body(StringBody(session -> session.getString("body")))
            .check(status().is(202)), measured));
  }
}
