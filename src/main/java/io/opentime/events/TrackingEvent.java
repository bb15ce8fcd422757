package io.opentime.events;

import io.vertx.core.json.JsonObject;
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
    return base("open", uid, campaign, time)
        .put("proxy", proxy)
        .put("machine", "apple_mpp".equals(proxy))
        .toBuffer().getBytes();
  }

  public static byte[] click(String uid, String campaign, String link, Instant time, String userAgent) {
    return base("click", uid, campaign, time)
        .put("link", link)
        .put("proxy", proxy(userAgent))
        .toBuffer().getBytes();
  }

  private static JsonObject base(String type, String uid, String campaign, Instant time) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    String id = Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE);
    return new JsonObject()
        .put("id", id)
        .put("type", type)
        .put("uid", uid)
        .put("campaign", campaign)
        .put("time", time.toString());
  }
}
