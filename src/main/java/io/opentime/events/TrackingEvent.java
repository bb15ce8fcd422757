package io.opentime.events;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Open and click events as written to their Kafka topics (JSON, keyed by uid). See docs/events.md.
 *
 * <p>{@code proxy} names the image proxy a request came through ({@code gmail}, {@code yahoo}, {@code apple_mpp}) or
 * is null for a direct fetch; {@code machine} is true when the open was most likely made by a machine rather than
 * the reader (Apple Mail Privacy Protection fetches every image at delivery).
 */
public final class TrackingEvent {

  private TrackingEvent() {
  }

  /** The image proxy named by a User-Agent, or null. */
  public static String proxy(String userAgent) {
    if (userAgent == null) {
      return null;
    }
    if (userAgent.contains("GoogleImageProxy")) {
      return "gmail";
    }
    if (userAgent.contains("YahooMailProxy")) {
      return "yahoo";
    }
    // Apple Mail Privacy Protection fetches with this bare User-Agent and nothing else.
    if (userAgent.equals("Mozilla/5.0")) {
      return "apple_mpp";
    }
    return null;
  }

  public static byte[] open(String uid, String campaign, Instant time, String userAgent) {
    String proxy = proxy(userAgent);
    StringBuilder b = base("open", uid, campaign, time);
    b.append(",\"proxy\":");
    string(b, proxy);
    b.append(",\"machine\":").append("apple_mpp".equals(proxy)).append('}');
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  public static byte[] click(String uid, String campaign, String link, Instant time, String userAgent) {
    StringBuilder b = base("click", uid, campaign, time);
    b.append(",\"link\":");
    string(b, link);
    b.append(",\"proxy\":");
    string(b, proxy(userAgent));
    b.append('}');
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Written by hand: one StringBuilder per event is a fraction of a JSON tree's cost on the pixel's path. */
  private static StringBuilder base(String type, String uid, String campaign, Instant time) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    StringBuilder b = new StringBuilder(192);
    b.append("{\"id\":\"").append(Long.toHexString(r.nextLong() | Long.MIN_VALUE))
        .append(Long.toHexString(r.nextLong() | Long.MIN_VALUE))
        .append("\",\"type\":\"").append(type).append("\",\"uid\":");
    string(b, uid);
    b.append(",\"campaign\":");
    string(b, campaign);
    b.append(",\"time\":\"").append(time).append('"');
    return b;
  }

  /** A JSON string (or null). Ids carry no control characters (token rules), but may carry quotes or backslashes. */
  static void string(StringBuilder b, String s) {
    if (s == null) {
      b.append("null");
      return;
    }
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    b.append('"');
  }
}
