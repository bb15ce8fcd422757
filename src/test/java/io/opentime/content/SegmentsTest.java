package io.opentime.content;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentime.config.ConfigException;
import io.opentime.config.GatewayConfig;
import io.opentime.config.ConfigParser;
import io.opentime.config.SegmentsConfig;
import io.opentime.profile.Profile;
import io.opentime.profile.ProfileSchema;
import io.opentime.support.TestConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The shipped segment rules, at their boundaries, on a fixed clock. */
class SegmentsTest {

  static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");
  static final GatewayConfig SHIPPED = ConfigParser.parse(TestConfig.shippedYaml(), Map.of());
  static final BlockRegistry BLOCKS = new BlockRegistry(SHIPPED.blocks(), SHIPPED.segments().fields());
  static final ProfileSchema SCHEMA = BLOCKS.schema();
  final List<String> failures = new ArrayList<>();
  final Segments segments = Segments.compile(SHIPPED.segments(), Clock.fixed(NOW, ZoneOffset.UTC), failures::add);

  static Profile profile(Map<String, String> fields) {
    String[] values = new String[SCHEMA.size()];
    fields.forEach((k, v) -> values[SCHEMA.indexOf(k)] = v);
    return new Profile(values, 0);
  }

  static String ago(Duration d) {
    return NOW.minus(d).toString();
  }

  boolean in(String segment, Map<String, String> fields) {
    return segments.matches(segment, profile(fields), SCHEMA);
  }

  @Test
  @DisplayName("cart_abandoned: more than one hour since the cart changed, and nothing bought since")
  void cartAbandoned() {
    assertThat(in("cart_abandoned", Map.of("cart_updated_at", ago(Duration.ofMinutes(60))))).isFalse();
    assertThat(in("cart_abandoned", Map.of("cart_updated_at", ago(Duration.ofMinutes(60).plusSeconds(1))))).isTrue();
    assertThat(in("cart_abandoned", Map.of("cart_updated_at", ago(Duration.ofHours(3)),
        "last_purchase_at", ago(Duration.ofHours(2))))).isFalse();
    assertThat(in("cart_abandoned", Map.of("cart_updated_at", ago(Duration.ofHours(3)),
        "last_purchase_at", ago(Duration.ofDays(9))))).isTrue();
    assertThat(in("cart_abandoned", Map.of())).isFalse();
  }

  @Test
  @DisplayName("browsed_not_bought: a view within 48 hours, no purchase after it")
  void browsedNotBought() {
    assertThat(in("browsed_not_bought", Map.of("last_view_at", ago(Duration.ofHours(48))))).isTrue();
    assertThat(in("browsed_not_bought", Map.of("last_view_at", ago(Duration.ofHours(48).plusSeconds(1))))).isFalse();
    assertThat(in("browsed_not_bought", Map.of("last_view_at", ago(Duration.ofHours(5)),
        "last_purchase_at", ago(Duration.ofHours(1))))).isFalse();
  }

  @Test
  @DisplayName("lapsed: last purchase more than 60 days ago")
  void lapsed() {
    assertThat(in("lapsed", Map.of("last_purchase_at", ago(Duration.ofDays(60))))).isFalse();
    assertThat(in("lapsed", Map.of("last_purchase_at", ago(Duration.ofDays(60).plusSeconds(1))))).isTrue();
    assertThat(in("lapsed", Map.of())).isFalse();
  }

  @Test
  @DisplayName("champions (RFM): bought within 30 days, 5+ orders and 500+ spent in a year")
  void champions() {
    Map<String, String> champion = Map.of("last_purchase_at", ago(Duration.ofDays(30)), "orders_365d", "5",
        "spend_365d", "500");
    assertThat(in("champions", champion)).isTrue();
    assertThat(in("champions", Map.of("last_purchase_at", ago(Duration.ofDays(30).plusSeconds(1)),
        "orders_365d", "5", "spend_365d", "500"))).isFalse();
    assertThat(in("champions", Map.of("last_purchase_at", ago(Duration.ofDays(1)), "orders_365d", "4",
        "spend_365d", "9000"))).isFalse();
    assertThat(in("champions", Map.of("last_purchase_at", ago(Duration.ofDays(1)), "orders_365d", "9",
        "spend_365d", "499.99"))).isFalse();
  }

  @Test
  @DisplayName("engaged: an engagement score of 70 or more")
  void engaged() {
    assertThat(in("engaged", Map.of("engagement_score", "70"))).isTrue();
    assertThat(in("engaged", Map.of("engagement_score", "69.9"))).isFalse();
  }

  @Test
  @DisplayName("variants are tried in order: the first matching segment wins, none matching is the default")
  void firstMatchWins() {
    List<String> order = BLOCKS.get("offer").variantSegments();
    assertThat(order).containsExactly("cart_abandoned", "champions", "browsed_not_bought", "lapsed", "engaged");
    Profile both = profile(Map.of("cart_updated_at", ago(Duration.ofHours(2)), "last_view_at", ago(Duration.ofHours(1))));
    assertThat(segments.select(order, both, SCHEMA)).isEqualTo(0);
    assertThat(segments.select(order, profile(Map.of("last_view_at", ago(Duration.ofHours(1)))), SCHEMA)).isEqualTo(2);
    assertThat(segments.select(order, profile(Map.of()), SCHEMA)).isEqualTo(-1);
    assertThat(segments.select(order, null, SCHEMA)).isEqualTo(-1);
  }

  @Test
  @DisplayName("data variants: stale data and defaulted answers pick their own variant before any segment")
  void dataVariants() {
    var fields = List.of(new io.opentime.config.BlockConfig.Field("first_name", "there"));
    var config = new io.opentime.config.BlockConfig("b", fields, null, Map.of("headline", "default"), List.of(
        new io.opentime.config.BlockConfig.Variant("lapsed", null, null, Map.of("headline", "lapsed")),
        new io.opentime.config.BlockConfig.Variant(null, "stale", null, Map.of("headline", "stale")),
        new io.opentime.config.BlockConfig.Variant(null, "defaulted", null, Map.of("headline", "defaulted"))));
    Block block = new BlockRegistry(Map.of("b", config), SHIPPED.segments().fields()).get("b");
    ProfileSchema schema = new BlockRegistry(Map.of("b", config), SHIPPED.segments().fields()).schema();
    String[] values = new String[schema.size()];
    values[schema.indexOf("last_purchase_at")] = ago(Duration.ofDays(90));
    Profile lapsedReader = new Profile(values, 0);
    assertThat(block.variantFor(new io.opentime.profile.ProfileLookup(lapsedReader, io.opentime.profile.Source.CACHE,
        null), segments, schema)).isEqualTo(0);
    assertThat(block.variantFor(new io.opentime.profile.ProfileLookup(lapsedReader, io.opentime.profile.Source.STALE,
        null), segments, schema)).isEqualTo(1);
    assertThat(block.variantFor(io.opentime.profile.ProfileLookup.fallback(io.opentime.profile.FallbackReason.TIMEOUT),
        segments, schema)).isEqualTo(2);
    assertThat(block.renderJson(null, 2).toString()).contains("\"variant\":\"defaulted\",\"headline\":\"defaulted\"");
  }

  @Test
  @DisplayName("a rule that fails for one profile gives the default variant and is reported")
  void runtimeFailure() {
    List<String> order = BLOCKS.get("offer").variantSegments();
    assertThat(segments.select(order, profile(Map.of("cart_updated_at", "yesterday-ish")), SCHEMA)).isEqualTo(-1);
    assertThat(failures).containsExactly("cart_abandoned");
  }

  @Test
  @DisplayName("a rule that does not compile, or is not boolean, stops start-up naming the rule")
  void compileErrors() {
    Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    assertThatThrownBy(() -> Segments.compile(new SegmentsConfig(List.of(), Map.of("bad", "profile.x +")), clock, s -> { }))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("config error in segments.rules.bad: ");
    assertThatThrownBy(() -> Segments.compile(new SegmentsConfig(List.of(), Map.of("num", "1 + 2")), clock, s -> { }))
        .hasMessageContaining("segments.rules.num").hasMessageContaining("bool");
    assertThatThrownBy(() -> Segments.compile(new SegmentsConfig(List.of(), Map.of("io",
        "java.lang.Runtime.getRuntime() != null")), clock, s -> { })).hasMessageContaining("segments.rules.io");
  }
}
