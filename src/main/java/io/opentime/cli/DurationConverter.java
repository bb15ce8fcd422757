package io.opentime.cli;

import io.opentime.config.Durations;
import java.time.Duration;
import picocli.CommandLine;

/** Lets picocli options take {@code 31d}, {@code 12h}, {@code 90s}. */
public final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    try {
      return Durations.parse(value);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.TypeConversionException(e.getMessage());
    }
  }
}
