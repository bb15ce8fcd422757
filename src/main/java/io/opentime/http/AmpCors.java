package io.opentime.http;

import io.opentime.config.AmpConfig;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * AMP for Email CORS (amp.dev "CORS in AMP for Email").
 *
 * <ul>
 *   <li>Version 2: the client sends {@code AMP-Email-Sender}; an allowed sender is echoed in
 *       {@code AMP-Email-Allow-Sender}.</li>
 *   <li>Version 1 (deprecated, still sent by some clients): {@code Origin} plus the {@code __amp_source_origin}
 *       query parameter; answered with {@code Access-Control-Allow-Origin} (the origin),
 *       {@code AMP-Access-Control-Allow-Source-Origin} (the sender) and {@code Access-Control-Expose-Headers}.</li>
 *   <li>When both are present version 2 decides alone. Neither, a sender not on the allowlist, or an origin not on
 *       the origin list: refused, and no CORS header is set.</li>
 * </ul>
 * Only values that matched the allowlists, and passed a strict address syntax check, are ever echoed; never {@code *}.
 */
public final class AmpCors {

  static final CharSequence EMAIL_SENDER = HttpHeaders.createOptimized("AMP-Email-Sender");
  static final CharSequence ALLOW_SENDER = HttpHeaders.createOptimized("AMP-Email-Allow-Sender");
  static final CharSequence ALLOW_SOURCE_ORIGIN = HttpHeaders.createOptimized("AMP-Access-Control-Allow-Source-Origin");
  static final CharSequence EXPOSE_HEADERS_VALUE = HttpHeaders.createOptimized("AMP-Access-Control-Allow-Source-Origin");
  static final String SOURCE_ORIGIN_PARAM = "__amp_source_origin";
  private static final int MAX_ADDRESS = 254;

  private final Set<String> exactSenders = new HashSet<>();
  private final Set<String> senderDomains = new HashSet<>();
  private final Set<String> origins;

  public AmpCors(AmpConfig config) {
    for (String s : config.senders()) {
      String lower = s.toLowerCase(Locale.ROOT);
      if (lower.startsWith("*@")) {
        senderDomains.add(lower.substring(2));
      } else {
        exactSenders.add(lower);
      }
    }
    this.origins = Set.copyOf(config.origins());
  }

  /**
   * Checks the request and, when it is allowed, sets the CORS response headers.
   *
   * @return true if allowed; false if it must be refused (no header has been set)
   */
  public boolean apply(HttpServerRequest request, HttpServerResponse response) {
    String v2Sender = request.getHeader(EMAIL_SENDER);
    if (v2Sender != null) {
      if (!senderAllowed(v2Sender)) {
        return false;
      }
      response.putHeader(ALLOW_SENDER, v2Sender);
      return true;
    }
    String origin = request.getHeader(HttpHeaders.ORIGIN);
    if (origin == null || !origins.contains(origin)) {
      return false;
    }
    String v1Sender = request.getParam(SOURCE_ORIGIN_PARAM);
    if (v1Sender == null || !senderAllowed(v1Sender)) {
      return false;
    }
    response.putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    response.putHeader(ALLOW_SOURCE_ORIGIN, v1Sender);
    response.putHeader(HttpHeaders.ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS_VALUE);
    return true;
  }

  /** True for a syntactically plain address that is on the allowlist, exactly or by {@code *@domain}. */
  boolean senderAllowed(String sender) {
    if (!plainAddress(sender)) {
      return false;
    }
    String lower = sender.toLowerCase(Locale.ROOT);
    if (exactSenders.contains(lower)) {
      return true;
    }
    return senderDomains.contains(lower.substring(lower.indexOf('@') + 1));
  }

  /** local@domain with an RFC 5322 dot-atom local part and a hostname domain; nothing else is ever echoed. */
  static boolean plainAddress(String s) {
    int len = s.length();
    int at = s.indexOf('@');
    if (len > MAX_ADDRESS || at <= 0 || at == len - 1 || s.indexOf('@', at + 1) >= 0) {
      return false;
    }
    for (int i = 0; i < at; i++) {
      char c = s.charAt(i);
      boolean atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+/=?^_`{|}~.-".indexOf(c) >= 0;
      if (!atext) {
        return false;
      }
    }
    for (int i = at + 1; i < len; i++) {
      char c = s.charAt(i);
      boolean host = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
      if (!host) {
        return false;
      }
    }
    return true;
  }
}
