package io.opentime.events;

import io.opentime.config.RedisConfig;
import io.opentime.events.ProfileEvent.AttributeChange;
import io.opentime.events.ProfileEvent.CartAdd;
import io.opentime.events.ProfileEvent.CartRemove;
import io.opentime.events.ProfileEvent.Consent;
import io.opentime.events.ProfileEvent.Erasure;
import io.opentime.events.ProfileEvent.PageView;
import io.opentime.events.ProfileEvent.Payload;
import io.opentime.events.ProfileEvent.Purchase;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Applies profile events to the readers' profile hashes with one Lua script ({@code events/apply.lua}), atomically
 * and last-write-wins: any order of any events, with repeats, ends in the same hash (docs/events.md).
 *
 * <p>It sends {@code EVALSHA}; when Redis no longer knows the script ({@code NOSCRIPT}, after a restart, a failover
 * or {@code SCRIPT FLUSH}) it sends the same call once as {@code EVAL} with the full script, which also caches the
 * script on the server again. It sets no timeout: callers add their own deadlines.
 *
 * <p>Threading: stateless after construction; {@link #apply} may be called from any thread or event loop. The
 * sender decides which connection carries the command.
 */
public final class ProfileWriter {

  private static final String SCRIPT_RESOURCE = "/events/apply.lua";

  private final String keyPrefix;
  private final String invalidationChannel;
  private final Function<Request, Future<Response>> sender;
  private final String script;
  private final String scriptSha;

  /**
   * @param keyPrefix the profile key prefix: a reader's hash is {@code <keyPrefix>{<uid>}}
   * @param invalidationChannel the channel on which the uid of every changed profile is published
   * @param sender sends one command to Redis and answers its reply (e.g. a connection's {@code send})
   */
  public ProfileWriter(String keyPrefix, String invalidationChannel, Function<Request, Future<Response>> sender) {
    this.keyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix");
    this.invalidationChannel = Objects.requireNonNull(invalidationChannel, "invalidationChannel");
    this.sender = Objects.requireNonNull(sender, "sender");
    this.script = loadScript();
    this.scriptSha = sha1Hex(script);
  }

  /** The apply script's SHA-1 (lower-case hex), as Redis names it in {@code EVALSHA} and {@code SCRIPT EXISTS}. */
  public String scriptSha() {
    return scriptSha;
  }

  /**
   * Applies one event to its reader's hash.
   *
   * @return what it did; fails with Redis' error (or the sender's) if the script could not run
   */
  public Future<ApplyResult> apply(ProfileEvent event) {
    List<String> args = scriptArguments(event);
    String key = RedisConfig.profileKey(keyPrefix, event.uid());
    return sender.apply(call(Command.EVALSHA, scriptSha, key, args))
        .recover(failure -> isNoScript(failure)
            ? sender.apply(call(Command.EVAL, script, key, args))
            : Future.failedFuture(failure))
        .map(reply -> ApplyResult.valueOf(reply.toString()));
  }

  private static Request call(Command command, String scriptOrSha, String key, List<String> args) {
    Request request = Request.cmd(command).arg(scriptOrSha).arg(1).arg(key);
    for (String arg : args) {
      request.arg(arg);
    }
    return request;
  }

  /** ARGV as the script's header describes it: channel, uid, type, version, time, millis, then the type's data. */
  private List<String> scriptArguments(ProfileEvent event) {
    List<String> args = new ArrayList<>();
    Payload payload = event.payload();
    args.add(invalidationChannel);
    args.add(event.uid());
    args.add(payload.type().wireName());
    args.add(event.version());
    args.add(event.time().toString());
    args.add(Long.toString(event.time().toEpochMilli()));
    if (payload instanceof PageView view) {
      args.add(view.category());
    } else if (payload instanceof CartAdd add) {
      args.add(add.product());
    } else if (payload instanceof CartRemove remove) {
      args.add(remove.product());
    } else if (payload instanceof Purchase purchase) {
      args.add(purchase.order());
      args.add(purchase.amount().toPlainString());
      args.addAll(purchase.products());
    } else if (payload instanceof AttributeChange change) {
      addFieldChanges(args, change.attributes());
    } else if (payload instanceof Consent consent) {
      Map<String, String> fields = new LinkedHashMap<>();
      if (consent.tracking() != null) {
        fields.put("consent_tracking", consent.tracking().toString());
      }
      if (consent.personalization() != null) {
        fields.put("consent_personalization", consent.personalization().toString());
      }
      addFieldChanges(args, fields);
    } else if (!(payload instanceof Erasure)) {
      throw new IllegalStateException("no script arguments for " + payload.type());
    }
    return args;
  }

  /** The number of fields to set, the field/value pairs, then the fields to delete (the null values). */
  private static void addFieldChanges(List<String> args, Map<String, String> fields) {
    List<String> sets = new ArrayList<>();
    List<String> deletes = new ArrayList<>();
    fields.forEach((field, value) -> {
      if (value == null) {
        deletes.add(field);
      } else {
        sets.add(field);
        sets.add(value);
      }
    });
    args.add(Integer.toString(sets.size() / 2));
    args.addAll(sets);
    args.addAll(deletes);
  }

  private static boolean isNoScript(Throwable failure) {
    String message = failure.getMessage();
    return message != null && message.startsWith("NOSCRIPT");
  }

  private static String loadScript() {
    try (InputStream in = ProfileWriter.class.getResourceAsStream(SCRIPT_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + SCRIPT_RESOURCE);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + SCRIPT_RESOURCE, e);
    }
  }

  private static String sha1Hex(String text) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is not available", e);
    }
  }
}
