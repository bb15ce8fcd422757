package io.opentime.cli;

import io.opentime.config.GatewayConfig;
import io.opentime.demo.DemoData;
import io.opentime.token.TokenClaims;
import io.opentime.token.TokenCodec;
import io.opentime.token.TokenKey;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;

/** What {@code serve --demo} prints: one ready-to-paste curl command per demo case, with valid tokens. */
final class DemoBanner {

  private DemoBanner() {
  }

  static void print(PrintWriter out, GatewayConfig cfg, boolean embeddedRedis, boolean embeddedKafka) {
    Clock clock = Clock.systemUTC();
    TokenCodec codec = new TokenCodec(cfg.tokenKeys(), clock);
    long exp = clock.instant().plus(Duration.ofDays(31)).getEpochSecond();
    String host = "0.0.0.0".equals(cfg.http().host()) || "::".equals(cfg.http().host()) ? "127.0.0.1" : cfg.http().host();
    // The management server listens on its own host setting; the demo prints the loopback form of both.
    String base = "http://" + host + ":" + cfg.http().port() + "/v1/amp/greeting?t=";
    String sender = demoSender(cfg.amp().senders().get(0));
    String senderHeader = " -H 'AMP-Email-Sender: " + sender + "'";

    out.println();
    out.println("Opentime demo is running.");
    out.println("  Redis:   " + (embeddedRedis ? "embedded, " : "") + cfg.redis().describe() + " (demo profiles under "
        + cfg.redis().profileKey("demo-*") + ")");
    out.println("  Sender:  " + sender + " (AMP CORS allowlist: " + String.join(", ", cfg.amp().senders()) + ")");
    if (cfg.events().kafka().enabled()) {
      out.println("  Kafka:   " + (embeddedKafka ? "embedded, " : "") + cfg.events().kafka().bootstrapServers()
          + " (opens to " + cfg.events().kafka().topics().opens() + ", profile events from "
          + cfg.events().kafka().topics().profileEvents() + ")");
    }
    out.println("  Metrics: http://" + host + ":" + cfg.management().port() + "/metrics, health: /health/live, /health/ready");
    out.println("  Tokens:  signed with key '" + cfg.tokenKeys().signing().kid() + "'"
        + ("demo".equals(cfg.tokenKeys().signing().kid()) ? ", generated for this run only" : ""));
    out.println();
    out.println("Paste any of these in another terminal (Ctrl-C here stops the gateway"
        + (embeddedRedis || embeddedKafka ? " and its " + (embeddedRedis ? "Redis" : "")
            + (embeddedRedis && embeddedKafka ? " and " : "") + (embeddedKafka ? "Kafka" : "") : "") + "):");
    for (DemoData.Reader r : DemoData.READERS) {
      if (DemoData.OFFER_READERS.contains(r.uid())) {
        continue;
      }
      String token = codec.mint(new TokenClaims(r.uid(), "demo", exp));
      out.println();
      out.println("# " + r.uid() + ": " + r.description());
      out.println("curl -si" + senderHeader + " '" + base + token + "'");
    }
    String ada = codec.mint(new TokenClaims(DemoData.READERS.get(0).uid(), "demo", exp));
    out.println();
    out.println("# the same reader through AMP CORS version 1 (Origin and __amp_source_origin)");
    out.println("curl -si -H 'Origin: " + cfg.amp().origins().get(0) + "' '" + base + ada
        + "&__amp_source_origin=" + URLEncoder.encode(sender, StandardCharsets.UTF_8) + "'");
    out.println();
    out.println("# the same reader as an HTML fragment (ESP connected content, web views): no AMP sender needed");
    out.println("curl -si '" + base.replace("/v1/amp/", "/v1/fragment/") + ada + "'");
    out.println();
    out.println("# a forged token: the block defaults, never anyone's data");
    out.println("curl -si" + senderHeader + " '" + base + forge(ada) + "'");
    out.println();
    out.println("# no allowed sender: 403, no data");
    out.println("curl -si '" + base + ada + "'");
    if (cfg.blocks().containsKey("recommendations")) {
      out.println();
      out.println("# recommendations for demo-ada: her recent categories, minus what she bought, then best sellers");
      out.println("curl -si" + senderHeader + " '" + base.replace("/greeting?", "/recommendations?") + ada + "'");
      out.println();
      out.println("# the same as an HTML fragment");
      out.println("curl -si '" + base.replace("/v1/amp/greeting?", "/v1/fragment/recommendations?") + ada + "'");
    }
    if (cfg.blocks().containsKey("offer")) {
      for (DemoData.Reader r : DemoData.READERS) {
        if (DemoData.OFFER_READERS.contains(r.uid())) {
          out.println();
          out.println("# segments: " + r.uid() + " " + r.description());
          out.println("curl -si" + senderHeader + " '" + base.replace("/greeting?", "/offer?")
              + codec.mint(new TokenClaims(r.uid(), "demo", exp)) + "'");
        }
      }
    }
    if (cfg.blocks().containsKey("offer")) {
      out.println();
      out.println("# the offer block as an HTML fragment, for the reader in the cart_abandoned segment");
      out.println("curl -si '" + base.replace("/v1/amp/greeting?", "/v1/fragment/offer?")
          + codec.mint(new TokenClaims("demo-cart", "demo", exp)) + "'");
    }
    String root = "http://" + host + ":" + cfg.http().port();
    out.println();
    out.println("# the open pixel: a 43-byte GIF at once; the open goes to Kafka (Gmail's image proxy, a human open)");
    out.println("curl -si -A 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)' '" + root + "/v1/open/" + ada + ".gif'");
    out.println();
    out.println("# a click: 302 to the target of link id '" + DemoData.SALE_LINK + "' (from the Redis hash "
        + cfg.events().links().redisHash() + "); the token carries the id, never a URL");
    out.println("curl -si '" + root + "/v1/click/"
        + codec.mint(new TokenClaims(DemoData.READERS.get(0).uid(), "demo", exp, DemoData.SALE_LINK)) + "'");
    Path dir = null;
    Path script = cfg.events().webhook().enabled() ? writeEventScript(cfg, root) : null;
    if (script != null) {
      dir = script.getParent();
      out.println();
      out.println("# an event changes the next open: rename demo-ada through the signed webhook (202 once Kafka has");
      out.println("# it; the updater applies it to Redis and every gateway drops its cached copy), then run the");
      out.println("# first curl above again");
      out.println("sh " + script + " demo-ada first_name 'Ada Lovelace'");
    }
    out.println();
    Path email = writeSampleEmail(dir, cfg, host, codec.mint(new TokenClaims(DemoData.READERS.get(0).uid(), "demo", exp)));
    if (email != null) {
      out.println("A sample AMP email (amp-list + amp-mustache) calling this gateway for demo-ada: " + email);
      out.println();
    }
  }

  /**
   * Writes send-event.sh, with this run's webhook key, into a fresh temp folder only its owner can read; null (and
   * nothing printed) if that fails. The key is never printed.
   */
  static Path writeEventScript(GatewayConfig cfg, String root) {
    try (InputStream in = DemoBanner.class.getResourceAsStream("/demo/send-event.sh")) {
      if (in == null) {
        return null;
      }
      TokenKey key = cfg.events().webhook().keys().signing();
      String sh = new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .replace("{{KEY_HEX}}", HexFormat.of().formatHex(key.secret()))
          .replace("{{KID}}", key.kid())
          .replace("{{BASE}}", root);
      Path dir = Files.createTempDirectory("opentime-demo-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      Path file = dir.resolve("send-event.sh");
      Files.writeString(file, sh);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
      return file;
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /** Writes the sample AMP email into the demo's temp folder (a fresh one if null); null if that fails. */
  static Path writeSampleEmail(Path dir, GatewayConfig cfg, String host, String token) {
    try (InputStream in = DemoBanner.class.getResourceAsStream("/demo/amp-email.html")) {
      if (in == null) {
        return null;
      }
      String html = new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .replace("{{BASE}}", "http://" + host + ":" + cfg.http().port())
          .replace("{{TOKEN}}", token)
          .replace("{{UID}}", DemoData.READERS.get(0).uid());
      Path file = (dir != null ? dir : Files.createTempDirectory("opentime-demo-")).resolve("amp-email.html");
      Files.writeString(file, html);
      return file;
    } catch (IOException e) {
      return null;
    }
  }

  /** A concrete address for a configured sender pattern ({@code *@d} becomes {@code news@d}). */
  static String demoSender(String configured) {
    return configured.startsWith("*@") ? "news" + configured.substring(1) : configured;
  }

  /** The token with one character of its signature changed. */
  private static String forge(String token) {
    char last = token.charAt(token.length() - 2);
    char swapped = last == 'A' ? 'B' : 'A';
    return token.substring(0, token.length() - 2) + swapped + token.charAt(token.length() - 1);
  }
}
