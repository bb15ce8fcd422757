package io.opentime.cli;

/** A bad argument found after parsing (e.g. a bad line in a uids file): one line, exit code 2. */
public final class UsageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UsageException(String message) {
    super(message, null, false, false);
  }
}
