package io.opentime.config;

/** Invalid configuration. The message is one line, names the key or variable, and never contains a secret. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message, null, false, false);
  }
}
