package io.opentime.profile;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The profile fields the gateway reads: the union of every block's allowlist, fixed at start-up. Only these fields
 * are fetched from Redis ({@code HMGET}), so no other profile field is ever held in memory, let alone sent out.
 */
public final class ProfileSchema {

  private final List<String> fields;
  private final Map<String, Integer> index = new HashMap<>();

  public ProfileSchema(Iterable<String> fieldNames) {
    Set<String> unique = new LinkedHashSet<>();
    fieldNames.forEach(unique::add);
    this.fields = List.copyOf(unique);
    for (int i = 0; i < fields.size(); i++) {
      index.put(fields.get(i), i);
    }
  }

  public List<String> fields() {
    return fields;
  }

  public int size() {
    return fields.size();
  }

  /** The position of a field in {@link Profile} values, or -1 if no block uses it. */
  public int indexOf(String field) {
    Integer i = index.get(field);
    return i == null ? -1 : i;
  }
}
