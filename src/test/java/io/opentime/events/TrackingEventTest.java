package io.opentime.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TrackingEventTest {

  static final Instant T = Instant.parse("2026-11-22T10:00:00.123Z");

  @Test
  void openIsJsonWithEveryMember() {
    JsonObject o = new JsonObject(new String(TrackingEvent.open("r-1", "spring", T, "Mozilla/5.0"), StandardCharsets.UTF_8));
    assertThat(o.fieldNames()).containsExactlyInAnyOrder("id", "type", "uid", "campaign", "time", "proxy", "machine");
    assertThat(o.getString("type")).isEqualTo("open");
    assertThat(o.getString("uid")).isEqualTo("r-1");
    assertThat(o.getString("campaign")).isEqualTo("spring");
    assertThat(o.getString("time")).isEqualTo("2026-11-22T10:00:00.123Z");
    assertThat(o.getString("proxy")).isEqualTo("apple_mpp");
    assertThat(o.getBoolean("machine")).isTrue();
    assertThat(o.getString("id")).matches("[0-9a-f]{32}");
  }

  @Test
  void idsWithQuotesAndBackslashesStayValidJson() {
    String uid = "r\"1\\x";
    JsonObject c = new JsonObject(new String(TrackingEvent.click(uid, null, "l\"k", T, null), StandardCharsets.UTF_8));
    assertThat(c.getString("uid")).isEqualTo(uid);
    assertThat(c.getString("link")).isEqualTo("l\"k");
    assertThat(c.getValue("campaign")).isNull();
    assertThat(c.getValue("proxy")).isNull();
    assertThat(c.containsKey("campaign")).isTrue();
  }

  @Test
  void proxiesAreToldApart() {
    assertThat(TrackingEvent.proxy("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"))
        .isEqualTo("gmail");
    assertThat(TrackingEvent.proxy("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"))
        .isEqualTo("yahoo");
    assertThat(TrackingEvent.proxy("Mozilla/5.0")).isEqualTo("apple_mpp");
    assertThat(TrackingEvent.proxy("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15")).isNull();
    assertThat(TrackingEvent.proxy(null)).isNull();
  }
}
