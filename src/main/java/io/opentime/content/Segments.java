package io.opentime.content;

import com.google.protobuf.Timestamp;
import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import io.opentime.config.ConfigException;
import io.opentime.config.SegmentsConfig;
import io.opentime.profile.Profile;
import io.opentime.profile.ProfileSchema;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Segment rules, written in Google's CEL and compiled once at start-up: a safe, side-effect-free, non-Turing-complete
 * language (no loops, no I/O, no access to Java classes) that checks types at compile time.
 *
 * <p>A rule sees {@code profile}, a {@code map(string, string)} of the reader's fields that are present (so
 * {@code "f" in profile} tests presence; convert with {@code int()}, {@code double()}, {@code timestamp()}), and
 * {@code now}, a timestamp from the gateway's clock (injectable, so tests are exact). A rule must be boolean.
 * A rule that fails for one profile (say, a field that is not a timestamp) selects the default variant and is
 * reported, never an error answer. Thread-safe.
 */
public final class Segments {

  private final Map<String, CelRuntime.Program> programs;
  private final Clock clock;
  private final Consumer<String> onError;

  private Segments(Map<String, CelRuntime.Program> programs, Clock clock, Consumer<String> onError) {
    this.programs = Map.copyOf(programs);
    this.clock = clock;
    this.onError = onError;
  }

  /**
   * Compiles every rule.
   *
   * @param onError told the segment name each time a rule fails at run time
   * @throws ConfigException naming the rule and the CEL error when a rule does not compile or is not boolean
   */
  public static Segments compile(SegmentsConfig config, Clock clock, Consumer<String> onError) {
    Cel cel = CelFactory.standardCelBuilder()
        .addVar("profile", MapType.create(SimpleType.STRING, SimpleType.STRING))
        .addVar("now", SimpleType.TIMESTAMP)
        .setResultType(SimpleType.BOOL)
        .build();
    Map<String, CelRuntime.Program> programs = new HashMap<>();
    config.rules().forEach((name, rule) -> {
      try {
        programs.put(name, cel.createProgram(cel.compile(rule).getAst()));
      } catch (CelValidationException e) {
        throw new ConfigException("config error in segments.rules." + name + ": "
            + e.getMessage().replaceAll("\\s*\\n\\s*", " | "));
      } catch (CelEvaluationException e) {
        throw new ConfigException("config error in segments.rules." + name + ": " + e.getMessage());
      }
    });
    return new Segments(programs, clock, onError);
  }

  /**
   * The index of the first segment in {@code candidates} the profile belongs to, or -1 (the default variant): none
   * matches, there is no profile, or a rule failed for this profile.
   */
  public int select(List<String> candidates, Profile profile, ProfileSchema schema) {
    if (profile == null || candidates.isEmpty()) {
      return -1;
    }
    Map<String, Object> vars = Map.of("profile", present(profile, schema), "now", timestamp(clock.instant()));
    for (int i = 0; i < candidates.size(); i++) {
      String segment = candidates.get(i);
      try {
        if (Boolean.TRUE.equals(programs.get(segment).eval(vars))) {
          return i;
        }
      } catch (CelEvaluationException | RuntimeException e) {
        onError.accept(segment);
        return -1;
      }
    }
    return -1;
  }

  /** True when the profile belongs to the segment (tests and tools). */
  public boolean matches(String segment, Profile profile, ProfileSchema schema) {
    return select(List.of(segment), profile, schema) == 0;
  }

  private static Map<String, String> present(Profile profile, ProfileSchema schema) {
    Map<String, String> fields = new HashMap<>();
    List<String> names = schema.fields();
    for (int i = 0; i < names.size(); i++) {
      String v = profile.value(i);
      if (v != null) {
        fields.put(names.get(i), v);
      }
    }
    return fields;
  }

  private static Timestamp timestamp(Instant now) {
    return Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
  }
}
