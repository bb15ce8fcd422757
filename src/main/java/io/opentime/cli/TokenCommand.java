package io.opentime.cli;

import io.opentime.Main;
import io.opentime.config.ConfigException;
import io.opentime.config.ConfigParser;
import io.opentime.config.GatewayConfig;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenCodec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code token}: mints reader tokens with the same keys {@code serve} verifies with. */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = "Print a signed reader token (or one per line of a uids file), signed with the first configured key.")
public final class TokenCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  static final class Readers {
    @Option(names = "--uid", paramLabel = "UID", description = "The reader's opaque id (never an email address).")
    String uid;

    @Option(names = "--uids-file", paramLabel = "FILE",
        description = "One uid per line ('-' reads standard input); prints one token per line, in input order.")
    String uidsFile;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Readers readers;

  @Option(names = "--campaign", paramLabel = "C", description = "Campaign id carried in the token.")
  String campaign;

  @Option(names = "--link", paramLabel = "ID",
      description = "Make a click token for this link id (a key of links.targets or of the Redis links hash; never a URL).")
  String link;

  @Option(names = "--ttl", paramLabel = "DURATION", defaultValue = "31d", converter = DurationConverter.class,
      description = "Lifetime: a number and s, m, h or d (default: ${DEFAULT-VALUE}; Gmail keeps AMP usable 30 days).")
  Duration ttl;

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "Configuration file (default: conf/application.yaml).")
  Path config;

  private final Clock clock;

  public TokenCommand() {
    this(Clock.systemUTC());
  }

  TokenCommand(Clock clock) {
    this.clock = clock;
  }

  @Override
  public Integer call() throws IOException {
    if (ttl.isZero() || ttl.isNegative()) {
      throw new UsageException("--ttl must be positive");
    }
    if (link != null && !ConfigParser.LINK_ID.matcher(link).matches()) {
      throw new UsageException("--link: link ids use A-Z, a-z, 0-9 and _ . : - (max 128), never a URL");
    }
    GatewayConfig cfg = Main.loadConfigOnce(config);
    if (cfg.tokenKeys().isEmpty()) {
      throw new ConfigException("no token keys: set OPENTIME_TOKEN_KEYS=kid:base64secret or tokens.keys in the config file");
    }
    TokenCodec codec = new TokenCodec(cfg.tokenKeys(), clock);
    long expiresAt = clock.instant().plus(ttl).getEpochSecond();
    PrintWriter out = spec.commandLine().getOut();
    if (readers.uid != null) {
      out.write(mint(codec, readers.uid, expiresAt, "--uid"));
      out.write('\n');
    } else {
      mintAll(codec, expiresAt, out);
    }
    out.flush();
    return 0;
  }

  private void mintAll(TokenCodec codec, long expiresAt, PrintWriter out) throws IOException {
    try (BufferedReader in = open(readers.uidsFile)) {
      String line;
      long n = 0;
      while ((line = in.readLine()) != null) {
        n++;
        out.write(mint(codec, line.strip(), expiresAt, "line " + n + " of " + readers.uidsFile));
        out.write('\n');
      }
    }
  }

  private String mint(TokenCodec codec, String uid, long expiresAt, String where) {
    try {
      return codec.mint(new TokenClaims(uid, campaign, expiresAt, link));
    } catch (IllegalArgumentException e) {
      throw new UsageException(where + ": " + e.getMessage());
    }
  }

  private static BufferedReader open(String file) throws IOException {
    if ("-".equals(file)) {
      return new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
    }
    try {
      return Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new UsageException("--uids-file: no such file: " + file);
    }
  }
}
