package io.opentime.profile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProfileTest {

  private static final String[] VALUES = {"Ada", null, "", "Zoë", "李小龍", "x".repeat(70_000), null};

  @Test
  void valuesComeBackAsGiven() {
    Profile p = new Profile(VALUES, 42);
    for (int i = 0; i < VALUES.length; i++) {
      assertThat(p.value(i)).as("field %d", i).isEqualTo(VALUES[i]);
    }
    assertThat(p.loadedAtNanos()).isEqualTo(42);
    assertThat(p.isEmpty()).isFalse();
  }

  @Test
  void indexesOutsideTheSchemaHaveNoValue() {
    Profile p = new Profile(VALUES, 0);
    assertThat(p.value(-1)).isNull();
    assertThat(p.value(VALUES.length)).isNull();
    assertThat(new Profile(new String[0], 0).value(0)).isNull();
  }

  @Test
  void aProfileWithNoValuesIsEmpty() {
    assertThat(new Profile(new String[0], 0).isEmpty()).isTrue();
    assertThat(new Profile(new String[3], 0).isEmpty()).isTrue();
    assertThat(new Profile(new String[] {null, null, ""}, 0).isEmpty()).as("an empty string is a value").isFalse();
  }

  @Test
  void redisRepliesArePackedAsTheirBytes() {
    Buffer[] replies = new Buffer[VALUES.length];
    for (int i = 0; i < VALUES.length; i++) {
      replies[i] = VALUES[i] == null ? null : Buffer.buffer(VALUES[i].getBytes(StandardCharsets.UTF_8));
    }
    Profile p = Profile.fromBuffers(replies, VALUES.length, 7);
    for (int i = 0; i < VALUES.length; i++) {
      assertThat(p.value(i)).as("field %d", i).isEqualTo(VALUES[i]);
    }
    assertThat(p.loadedAtNanos()).isEqualTo(7);
  }

  @Test
  void fieldsMissingFromTheReplyAreAbsent() {
    Profile p = Profile.fromBuffers(new Buffer[] {Buffer.buffer("gold")}, 3, 0);
    assertThat(p.value(0)).isEqualTo("gold");
    assertThat(p.value(1)).isNull();
    assertThat(p.value(2)).isNull();
    assertThat(Profile.fromBuffers(new Buffer[0], 2, 0).isEmpty()).isTrue();
  }
}
