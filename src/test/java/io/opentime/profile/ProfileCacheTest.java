package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.stats.CacheStats;
import io.opentime.Main;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import io.vertx.junit5.VertxExtension;

/** Cache hit, miss, coalescing and stale-while-revalidate, against the real Redis, with a fake cache clock. */
@ExtendWith(VertxExtension.class)
class ProfileCacheTest {

  static Vertx vertx;
  static RunningGateway gw;

  @BeforeAll
  static void start(Vertx v) {
    vertx = v;
    gw = RunningGateway.onSharedRedis(vertx);
  }

  @AfterAll
  static void stop() {
    gw.close(); // the Vertx is closed by VertxExtension
  }

  static String fresh(String prefix) {
    return prefix + "-" + System.nanoTime();
  }

  static String source(HttpResponse<String> r) {
    return r.headers().firstValue("X-Opentime-Source").orElse("?");
  }

  @Test
  @DisplayName("a miss reads Redis once; the hits after it do not touch Redis")
  void missThenHits() {
    String uid = fresh("hit");
    gw.putProfile(uid, Map.of("first_name", "Ada"));
    long before = gw.hmgetCalls();
    CacheStats statsBefore = gw.gateway.services().cache().view().stats();
    assertThat(source(gw.greeting(uid))).isEqualTo("redis");
    for (int i = 0; i < 20; i++) {
      assertThat(source(gw.greeting(uid))).isEqualTo("cache");
    }
    assertThat(gw.hmgetCalls() - before).isEqualTo(1);
    // The exported hit ratio (cache_gets) counts each lookup once: one miss, twenty hits
    CacheStats stats = gw.gateway.services().cache().view().stats().minus(statsBefore);
    assertThat(stats.missCount()).isEqualTo(1);
    assertThat(stats.hitCount()).isEqualTo(20);
  }

  @Test
  @DisplayName("a hundred simultaneous opens of one reader share a single Redis read")
  void coalescing() {
    String uid = fresh("burst");
    gw.putProfile(uid, Map.of("first_name", "Ada"));
    ProfileCache cache = gw.gateway.services().cache();
    long before = gw.hmgetCalls();
    double coalescedBefore = gw.counter(io.opentime.ops.GatewayMetrics.COALESCED);
    // All lookups are issued in one event-loop turn. The read may be answered on another event loop while they are
    // issued, so later lookups may already find the profile cached: either way Redis is read once.
    Promise<List<ProfileLookup>> done = Promise.promise();
    vertx.runOnContext(v -> {
      List<Future<ProfileLookup>> all = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        all.add(cache.lookup(uid));
      }
      Future.all(all).map(cf -> cf.<ProfileLookup>list()).onComplete(done);
    });
    List<ProfileLookup> results = Main.block(done.future());
    assertThat(results.get(0).source()).isEqualTo(Source.REDIS);
    // Every lookup that joined the read in flight is counted as coalesced; the ones issued after it completed
    // found the profile cached (how many of each depends on the scheduling, the sum does not).
    long joined = results.stream().filter(l -> l.source() == Source.REDIS).count() - 1;
    assertThat(gw.counter(io.opentime.ops.GatewayMetrics.COALESCED) - coalescedBefore).isEqualTo((double) joined);
    assertThat(results).hasSize(100).allSatisfy(l -> {
      assertThat(l.source()).isIn(Source.REDIS, Source.CACHE);
      assertThat(l.profile().value(gw.gateway.services().blocks().schema().indexOf("first_name"))).isEqualTo("Ada");
    });
    assertThat(gw.hmgetCalls() - before).isEqualTo(1);
  }

  @Test
  @DisplayName("past the hard expiry the profile is dropped and read again from Redis")
  void hardExpiry() {
    String uid = fresh("exp");
    gw.putProfile(uid, Map.of("first_name", "Ada"));
    assertThat(source(gw.greeting(uid))).isEqualTo("redis");
    // A second open settles the entry: Caffeine stamps its write time just after the first answer is written.
    assertThat(source(gw.greeting(uid))).isEqualTo("cache");
    gw.ticker.advance(gw.config.cache().expireAfter().plusSeconds(1));
    assertThat(source(gw.greeting(uid))).isEqualTo("redis");
  }

  @Test
  @DisplayName("a reader with no profile is cached too, so unknown readers do not hammer Redis")
  void negativeCaching() {
    String uid = fresh("ghost");
    long before = gw.hmgetCalls();
    assertThat(source(gw.greeting(uid))).isEqualTo("redis");
    assertThat(source(gw.greeting(uid))).isEqualTo("cache");
    assertThat(gw.hmgetCalls() - before).isEqualTo(1);
  }

  @Test
  @DisplayName("invalidate drops one reader so the next open reads Redis")
  void invalidate() {
    String uid = fresh("inv");
    gw.putProfile(uid, Map.of("first_name", "Ada"));
    gw.greeting(uid);
    gw.putProfile(uid, Map.of("first_name", "Augusta"));
    gw.gateway.services().cache().invalidate(uid);
    HttpResponse<String> r = gw.greeting(uid);
    assertThat(source(r)).isEqualTo("redis");
    assertThat(r.body()).contains("Augusta");
  }

  @Test
  @DisplayName("a read started on an event loop goes on that loop's own Redis connection and completes there")
  void readsStayOnTheCallingLoop() {
    ProfileStore store = gw.gateway.services().store();
    assertThat(store.links()).hasSizeGreaterThan(1);
    for (RedisLink link : store.links()) {
      for (int i = 0; i < 8; i++) { // eight readers: by uid, some would belong to another loop
        String uid = fresh("own-loop") + "-" + i;
        gw.putProfile(uid, Map.of("first_name", "Ada"));
        Thread[] caller = new Thread[1];
        Promise<Thread> completedOn = Promise.promise();
        link.context().runOnContext(v -> {
          caller[0] = Thread.currentThread();
          store.load(uid).whenComplete((profile, err) -> completedOn.complete(Thread.currentThread()));
        });
        assertThat(Main.block(completedOn.future())).as("thread the read of %s completed on", uid)
            .isSameAs(caller[0]);
      }
    }
  }

  @Test
  @DisplayName("a miss is stored before its open is answered, so the next open finds the profile cached")
  void storedBeforeAnswered() {
    ProfileStore store = gw.gateway.services().store();
    ProfileCache cache = gw.gateway.services().cache();
    for (RedisLink link : store.links()) { // on each loop the read completes on the caller's own thread
      String uid = fresh("stored-first");
      gw.putProfile(uid, Map.of("first_name", "Ada"));
      // What the cache held at the moment the open was answered (read quietly: no statistics, no refresh).
      Promise<Map.Entry<ProfileLookup, Optional<Profile>>> answered = Promise.promise();
      link.context().runOnContext(v -> cache.lookup(uid).onSuccess(lookup -> answered.complete(
          Map.entry(lookup, Optional.ofNullable(cache.view().policy().getIfPresentQuietly(uid))))));
      Map.Entry<ProfileLookup, Optional<Profile>> at = Main.block(answered.future());
      assertThat(at.getKey().source()).as("%s is a miss, answered from Redis", uid).isEqualTo(Source.REDIS);
      assertThat(at.getValue()).as("%s cached when its open was answered", uid).containsSame(at.getKey().profile());
    }
  }
}
