package io.opentime.content;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.support.Http;
import io.opentime.support.RunningGateway;
import io.opentime.support.TestConfig;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The recommendations block against a real Redis catalog: ranking, exclusion, best-seller fill, missing products. */
@ExtendWith(VertxExtension.class)
class RecommendationsTest {

  static RunningGateway gw;
  static final String RUN = Long.toString(System.nanoTime());
  static final String SHOES = "shoes-" + RUN;
  static final String BAGS = "bags-" + RUN;

  @BeforeAll
  static void start(Vertx vertx) {
    gw = RunningGateway.onSharedRedis(vertx);
    rank("catalog:category:" + SHOES, "s1", 100, "s2", 90, "ghost", 85, "s3", 80);
    rank("catalog:category:" + BAGS, "b1", 50, "b2", 40);
    rank("catalog:bestsellers", "top1", 9, "s2", 8, "top2", 7);
    for (String id : List.of("s1", "s2", "s3", "b1", "b2", "top1", "top2")) {
      product(id, "Product " + id.toUpperCase(), "€" + id.length() + "9.00");
    }
    product("b2", "Bag \"Deluxe\" <b>", "€99.00");
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  static void rank(String key, Object... idScore) {
    Request zadd = Request.cmd(Command.ZADD).arg(key);
    for (int i = 0; i < idScore.length; i += 2) {
      zadd.arg(idScore[i + 1].toString()).arg(idScore[i].toString());
    }
    gw.send(Request.cmd(Command.DEL).arg(key));
    gw.send(zadd);
  }

  static void product(String id, String name, String price) {
    gw.send(Request.cmd(Command.HSET).arg("product:" + id).arg("name").arg(name).arg("price").arg(price)
        .arg("image").arg("https://img.example/" + id + ".jpg").arg("url").arg("https://shop.example/p/" + id));
  }

  static List<String> ids(String uid) {
    JsonArray items = new JsonObject(Http.get(gw.ampUrl("recommendations", uid), "AMP-Email-Sender", TestConfig.SENDER)
        .body()).getJsonArray("items");
    return items.stream().map(o -> ((JsonObject) o).getString("id")).toList();
  }

  @Test
  @DisplayName("most recent category first, each by its ranking, leaving out what the reader bought and missing products")
  void rankingAndExclusion() {
    gw.putProfile("r-ann", Map.of("first_name", "Ann", "recent_categories", SHOES + "," + BAGS, "purchased", "s1"));
    assertThat(ids("r-ann")).containsExactly("s2", "s3", "b1", "b2");
  }

  @Test
  @DisplayName("too few category products: filled up with best sellers, without duplicates")
  void bestsellerFill() {
    gw.putProfile("r-bo", Map.of("first_name", "Bo", "recent_categories", SHOES, "purchased", "s1,s3"));
    assertThat(ids("r-bo")).containsExactly("s2", "top1", "top2");
  }

  @Test
  @DisplayName("with rankings cached, an uncached reader and uncached products cost one profile read and one batch of "
      + "product reads, no ranking read")
  void coldRecommendationReads() {
    String cold = "cold-" + RUN;
    rank("catalog:category:" + cold, "c1", 3, "c2", 2, "c3", 1);
    for (String id : List.of("c1", "c2", "c3")) {
      product(id, "Cold " + id, "€1.00");
    }
    // Warms the ranking (and the best sellers) without touching c1-c3: this reader bought them all.
    gw.putProfile("r-warm", Map.of("recent_categories", cold, "purchased", "c1,c2,c3"));
    ids("r-warm");
    gw.putProfile("r-cold", Map.of("recent_categories", cold));
    long hmget = gw.calls("hmget");
    long zrevrange = gw.calls("zrevrange");
    assertThat(ids("r-cold")).containsExactly("c1", "c2", "c3", "top1");
    assertThat(gw.calls("hmget") - hmget).as("profile + c1, c2, c3").isEqualTo(4);
    assertThat(gw.calls("zrevrange") - zrevrange).isZero();
  }

  @Test
  @DisplayName("no profile data (a forged token): best sellers")
  void defaultsAreBestsellers() {
    JsonArray items = new JsonObject(Http.get(gw.base() + "/v1/amp/recommendations?t=forged",
        "AMP-Email-Sender", TestConfig.SENDER).body()).getJsonArray("items");
    assertThat(items.stream().map(o -> ((JsonObject) o).getString("id")).toList()).containsExactly("top1", "s2", "top2");
  }

  @Test
  @DisplayName("items carry id, name, price, image and link, JSON-escaped; the fragment HTML-escapes them")
  void shapes() {
    gw.putProfile("r-cy", Map.of("first_name", "Cy", "recent_categories", BAGS));
    JsonObject first = new JsonObject(Http.get(gw.ampUrl("recommendations", "r-cy"), "AMP-Email-Sender",
        TestConfig.SENDER).body()).getJsonArray("items").getJsonObject(1);
    assertThat(first.getMap()).containsEntry("id", "b2").containsEntry("name", "Bag \"Deluxe\" <b>")
        .containsEntry("price", "€99.00").containsEntry("image", "https://img.example/b2.jpg")
        .containsEntry("link", "https://shop.example/p/b2");
    String html = Http.get(gw.base() + "/v1/fragment/recommendations?t=" + gw.token("r-cy")).body();
    assertThat(html).contains("Picked for you, Cy").contains("Bag &quot;Deluxe&quot; &lt;b&gt;")
        .contains("href=\"https://shop.example/p/b1\"").doesNotContain("<b>\"");
  }
}
