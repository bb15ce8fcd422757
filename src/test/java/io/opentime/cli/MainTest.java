package io.opentime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.Main;
import io.opentime.support.TestConfig;
import io.opentime.token.TokenCodec;
import io.opentime.token.TokenKeys;
import io.opentime.token.TokenVerification;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: exit codes, one-line errors, and tokens that the gateway accepts. */
class MainTest {

  @TempDir
  Path dir;

  record Run(int code, String out, String err) {
  }

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  /** The shipped config with the test key, written to a file. */
  Path configWithKey() {
    return TestConfig.copyConf(dir, yaml -> yaml.replaceFirst("  keys: \\[]", "  keys: [\"" + TestConfig.KEY_SPEC + "\"]"));
  }

  static TokenVerification verify(String token) {
    return new TokenCodec(TokenKeys.parse(TestConfig.KEY_SPEC), Clock.systemUTC()).verify(token);
  }

  @Test
  @DisplayName("token --uid prints one token the gateway's keys verify, expiring after --ttl")
  void tokenForOneUid() throws Exception {
    Run r = run("token", "--uid", "r-42", "--campaign", "spring", "--ttl", "2h", "-c", configWithKey().toString());
    assertThat(r.code()).isZero();
    assertThat(r.err()).isEmpty();
    String token = r.out().strip();
    assertThat(token.lines()).hasSize(1);
    TokenVerification v = verify(token);
    assertThat(v.valid()).isTrue();
    assertThat(v.claims().uid()).isEqualTo("r-42");
    assertThat(v.claims().campaign()).isEqualTo("spring");
    long ttl = v.claims().expiresAt() - Instant.now().getEpochSecond();
    assertThat(ttl).isBetween(7200L - 60, 7200L);
  }

  @Test
  @DisplayName("token defaults to a 31-day lifetime")
  void defaultTtl() throws Exception {
    Run r = run("token", "--uid", "r-42", "-c", configWithKey().toString());
    long ttl = verify(r.out().strip()).claims().expiresAt() - Instant.now().getEpochSecond();
    assertThat(ttl).isBetween(31L * 86400 - 60, 31L * 86400);
  }

  @Test
  @DisplayName("token --uids-file prints one token per line, in input order")
  void tokensForFile() throws Exception {
    List<String> uids = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      uids.add("u" + i);
    }
    Path file = dir.resolve("uids.txt");
    Files.write(file, uids);
    Run r = run("token", "--uids-file", file.toString(), "-c", configWithKey().toString());
    assertThat(r.code()).isZero();
    List<String> tokens = r.out().lines().toList();
    assertThat(tokens).hasSize(1000);
    for (int i = 0; i < tokens.size(); i++) {
      assertThat(verify(tokens.get(i)).claims().uid()).isEqualTo(uids.get(i));
    }
  }

  @Test
  @DisplayName("a bad line in a uids file stops with exit 2 naming the line")
  void badUidLine() throws Exception {
    Path file = dir.resolve("uids.txt");
    Files.write(file, List.of("u1", "ada@example.com", "u3"));
    Run r = run("token", "--uids-file", file.toString(), "-c", configWithKey().toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("opentime: line 2 of " + file + ": uid looks like an email address: "
        + "tokens carry an opaque reader id, never PII");
  }

  @Test
  @DisplayName("bad arguments: one line naming the flag, exit 2, no stack trace")
  void badArguments() throws Exception {
    String cfg = configWithKey().toString();
    for (String[] args : new String[][] {
        {"token", "-c", cfg},
        {"token", "--uid", "a", "--uids-file", "f", "-c", cfg},
        {"token", "--uid", "a", "--ttl", "5x", "-c", cfg},
        {"token", "--uid", "a", "--ttl", "0s", "-c", cfg},
        {"token", "--uids-file", dir.resolve("missing.txt").toString(), "-c", cfg},
        {"serve", "--bogus"},
        {"launch"}}) {
      Run r = run(args);
      assertThat(r.code()).as(String.join(" ", args)).isEqualTo(2);
      assertThat(r.err().strip().lines()).as(String.join(" ", args)).hasSize(1);
      assertThat(r.err()).startsWith("opentime: ").doesNotContain("Exception").doesNotContain("\tat ");
    }
    assertThat(run("token", "--uid", "a", "--ttl", "5x", "-c", cfg).err()).contains("--ttl");
    assertThat(run("serve", "--bogus").err()).contains("--bogus");
  }

  @Test
  @DisplayName("bad configuration: one line naming the key, exit 2")
  void badConfig() throws Exception {
    Path missing = dir.resolve("nope.yaml");
    Run r = run("serve", "-c", missing.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("opentime: config file not found: " + missing);

    Path typo = dir.resolve("typo.yaml");
    Files.writeString(typo, "redis:\n  dealine: 25ms\n");
    r = run("serve", "-c", typo.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("opentime: config error in redis.dealine: unknown key");

    Path broken = dir.resolve("broken.yaml");
    Files.writeString(broken, "http: [unclosed\n");
    r = run("serve", "-c", broken.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip().lines()).hasSize(1);
    assertThat(r.err()).startsWith("opentime: cannot read config file " + broken);
  }

  @Test
  @DisplayName("serve refuses to start without token keys, and token has nothing to sign with")
  void noKeys() {
    Run serve = run("serve", "-c", "conf/application.yaml");
    assertThat(serve.code()).isEqualTo(2);
    assertThat(serve.err()).startsWith("opentime: no token keys: set OPENTIME_TOKEN_KEYS");
    Run token = run("token", "--uid", "a", "-c", "conf/application.yaml");
    assertThat(token.code()).isEqualTo(2);
    assertThat(token.err()).startsWith("opentime: no token keys");
  }

  @Test
  @DisplayName("a port already in use: one line saying so, exit 1, and nothing left running")
  void portInUse() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
      taken.bind(new java.net.InetSocketAddress("0.0.0.0", 0));
      Path cfg = TestConfig.copyConf(dir, yaml -> yaml
          .replaceFirst("  keys: \\[]", "  keys: [\"" + TestConfig.KEY_SPEC + "\"]")
          .replace("  port: 8080 ", "  port: " + taken.getLocalPort() + " ")
          .replace("  senders: []", "  senders: [\"" + TestConfig.SENDER + "\"]"));
      Run r = run("serve", "-c", cfg.toString());
      assertThat(r.code()).isEqualTo(1);
      assertThat(r.err().strip().lines()).hasSize(1);
      assertThat(r.err()).startsWith("opentime: cannot listen").contains("OPENTIME_HTTP_PORT");
    }
  }

  @Test
  @DisplayName("a configuration whose templates folder is missing: one line naming it, exit 2")
  void missingTemplates() throws Exception {
    Path cfg = dir.resolve("alone.yaml");
    Files.writeString(cfg, Files.readString(Path.of("conf/application.yaml"))
        .replaceFirst("  keys: \\[]", "  keys: [\"" + TestConfig.KEY_SPEC + "\"]")
        .replace("  senders: []", "  senders: [\"" + TestConfig.SENDER + "\"]"));
    Run r = run("serve", "-c", cfg.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).isEqualTo("opentime: templates folder " + dir.resolve("templates")
        + " does not exist (blocks name templates; it sits next to the configuration file)");
  }

  @Test
  @DisplayName("webhook keys without Kafka: one line naming both settings, exit 2")
  void webhookWithoutKafka() throws Exception {
    String webhookKey = "w1:" + java.util.Base64.getEncoder().encodeToString(new byte[32]);
    Path cfg = TestConfig.copyConf(dir, yaml -> yaml
        .replaceFirst("  keys: \\[]", "  keys: [\"" + TestConfig.KEY_SPEC + "\"]")
        .replace("  senders: []", "  senders: [\"" + TestConfig.SENDER + "\"]")
        .replace("  keys: []                   # OPENTIME_WEBHOOK_KEYS", "  keys: [\"" + webhookKey + "\"]  # OPENTIME_WEBHOOK_KEYS"));
    Run r = run("serve", "-c", cfg.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("opentime: webhook.keys (OPENTIME_WEBHOOK_KEYS) is set")
        .contains("OPENTIME_KAFKA_BOOTSTRAP_SERVERS").doesNotContain(webhookKey.substring(3));
    assertThat(r.err().strip().lines()).hasSize(1);
  }

  @Test
  @DisplayName("--help and --version answer with exit 0")
  void help() {
    Run help = run("--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("serve").contains("token");
    assertThat(run("token", "--help").out()).contains("--uids-file").contains("--ttl");
    assertThat(run("--version").out()).startsWith("opentime ");
  }
}
