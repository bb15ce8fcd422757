package io.opentime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentime.support.Await;
import io.opentime.support.EventsSetup;
import io.opentime.support.Http;
import io.opentime.support.TestConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** serve --demo: a real embedded Redis, demo data, and curl lines that work exactly as printed. */
class DemoTest {

  @TempDir
  Path dir;

  /** One printed curl command: the comment above it, its headers and its URL. */
  record Curl(String comment, List<String[]> headers, String url) {
  }

  static List<Curl> parse(String output) {
    List<Curl> curls = new ArrayList<>();
    String comment = "";
    Pattern header = Pattern.compile("-H '([^:]+): ([^']*)'");
    Pattern url = Pattern.compile("'(http://[^']+)'$");
    for (String line : output.lines().toList()) {
      if (line.startsWith("# ")) {
        comment = line;
      } else if (line.startsWith("curl ")) {
        List<String[]> hs = new ArrayList<>();
        Matcher h = header.matcher(line);
        while (h.find()) {
          hs.add(new String[] {h.group(1), h.group(2)});
        }
        Matcher u = url.matcher(line);
        assertThat(u.find()).as(line).isTrue();
        curls.add(new Curl(comment, hs, u.group(1)));
      }
    }
    return curls;
  }

  static HttpResponse<String> run(Curl c) {
    List<String> flat = new ArrayList<>();
    c.headers().forEach(h -> flat.addAll(List.of(h)));
    return Http.get(c.url(), flat.toArray(String[]::new));
  }

  @Test
  @DisplayName("serve --demo prints curl lines that work as printed, and its Redis stops with it")
  void demoCurlLinesWork() throws Exception {
    int port = TestConfig.freePort();
    Path cfg = TestConfig.copyConf(dir, yaml -> yaml.replace("  port: 8080 ", "  port: " + port + " "));
    ServeCommand serve = new ServeCommand();
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(serve).setOut(new PrintWriter(out));
    cl.parseArgs("--demo", "-c", cfg.toString());
    ServeCommand.Running running = serve.start();
    try {
      List<Curl> curls = parse(out.toString());
      assertThat(curls).hasSize(18);
      assertThat(curls.subList(0, 16)).allSatisfy(c -> assertThat(c.url()).matches("http://127\\.0\\.0\\.1:" + port
          + "/v1/(amp|fragment)/(greeting|offer|recommendations)\\?t=.*"));

      HttpResponse<String> ada = run(curls.get(0));
      assertThat(ada.statusCode()).isEqualTo(200);
      assertThat(ada.body()).isEqualTo("{\"items\":[{\"first_name\":\"Ada\",\"loyalty_tier\":\"gold\"}]}");
      assertThat(ada.headers().firstValue("AMP-Email-Allow-Sender")).hasValue(ServeCommand.DEMO_SENDER);

      assertThat(run(curls.get(1)).body()).isEqualTo("{\"items\":[{\"first_name\":\"Bob\",\"loyalty_tier\":\"member\"}]}");
      assertThat(run(curls.get(2)).body())
          .isEqualTo("{\"items\":[{\"first_name\":\"Zoë \\\"<b>bold</b>\\\"\",\"loyalty_tier\":\"silver\"}]}");
      assertThat(run(curls.get(3)).body()).isEqualTo("{\"items\":[{\"first_name\":\"there\",\"loyalty_tier\":\"member\"}]}");

      HttpResponse<String> v1 = run(curls.get(4));
      assertThat(curls.get(4).comment()).contains("version 1");
      assertThat(v1.body()).contains("Ada");
      assertThat(v1.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://mail.google.com");

      HttpResponse<String> html = run(curls.get(5));
      assertThat(curls.get(5).comment()).contains("HTML fragment");
      assertThat(html.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
      assertThat(html.body()).contains("Hello Ada!").contains("gold member");

      HttpResponse<String> forged = run(curls.get(6));
      assertThat(curls.get(6).comment()).contains("forged");
      assertThat(forged.statusCode()).isEqualTo(200);
      assertThat(forged.headers().firstValue("X-Opentime-Source")).hasValue("default");
      assertThat(forged.body()).doesNotContain("Ada");

      HttpResponse<String> noSender = run(curls.get(7));
      assertThat(noSender.statusCode()).isEqualTo(403);
      assertThat(noSender.body()).doesNotContain("Ada");

      assertThat(curls.get(8).comment()).contains("recommendations");
      assertThat(run(curls.get(8)).body()).contains("\"id\":\"shoe-2\"").doesNotContain("shoe-1");
      assertThat(run(curls.get(9)).body()).contains("City sneaker").contains("<li>");
      String[] variants = {"cart_abandoned", "champions", "browsed_not_bought", "lapsed", "engaged"};
      for (int i = 0; i < variants.length; i++) {
        assertThat(run(curls.get(10 + i)).body()).as(variants[i]).contains("\"variant\":\"" + variants[i] + "\"");
      }
      assertThat(run(curls.get(15)).body()).contains("data-variant=\"cart_abandoned\"");

      java.util.regex.Matcher email = Pattern.compile("sample AMP email .*: (\\S+)$", Pattern.MULTILINE)
          .matcher(out.toString());
      assertThat(email.find()).isTrue();
      String ampEmail = Files.readString(Path.of(email.group(1)));
      assertThat(ampEmail).contains("<html ⚡4email").contains("amp-list").contains("amp-mustache")
          .contains("http://127.0.0.1:" + port + "/v1/amp/offer?t=v1.").doesNotContain("{{BASE}}");
      String src = ampEmail.replaceAll("(?s).*src=\"(http://[^\"]+/v1/amp/greeting[^\"]+)\".*", "$1");
      assertThat(Http.get(src, "AMP-Email-Sender", ServeCommand.DEMO_SENDER).body()).contains("Ada");

      for (Curl c : curls) {
        assertThat(run(c).body()).doesNotContain("@example.com").doesNotContain("+44");
      }

      // Events: the pixel, a click, and an event through the webhook script changing the next open.
      assertThat(curls.get(16).comment()).contains("pixel");
      HttpResponse<String> pixel = run(curls.get(16));
      assertThat(pixel.statusCode()).isEqualTo(200);
      assertThat(pixel.headers().firstValue("content-type")).hasValue("image/gif");
      assertThat(curls.get(17).comment()).contains("click");
      HttpResponse<String> click = run(curls.get(17));
      assertThat(click.statusCode()).isEqualTo(302);
      assertThat(click.headers().firstValue("location")).hasValue(io.opentime.demo.DemoData.SALE_TARGET);
      assertThat(EventsSetup.read(running.kafka().bootstrapServers(), running.config().events().kafka().topics().opens(),
          1, java.time.Duration.ofSeconds(20))).isNotEmpty();

      java.util.regex.Matcher sh = Pattern.compile("^sh (\\S+) demo-ada first_name 'Ada Lovelace'$", Pattern.MULTILINE)
          .matcher(out.toString());
      assertThat(sh.find()).as(out.toString()).isTrue();
      assertThat(Files.readString(Path.of(sh.group(1)))).doesNotContain("{{");
      Process p = new ProcessBuilder("sh", sh.group(1), "demo-ada", "first_name", "Ada Lovelace")
          .redirectErrorStream(true).start();
      String answer = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(p.waitFor()).as(answer).isZero();
      assertThat(answer).contains("\"accepted\":1");
      Await.until("the next open shows the event", java.time.Duration.ofSeconds(30),
          () -> run(curls.get(0)).body().contains("Ada Lovelace"));
      assertThat(out.toString()).doesNotContain(java.util.HexFormat.of().formatHex(
          running.config().events().webhook().keys().signing().secret()));
    } finally {
      ServeCommand.stop(running);
    }
    assertThat(running.redis().alive()).isFalse();
    assertThat(running.kafka().running()).isFalse();
  }
}
