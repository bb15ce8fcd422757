package io.opentime.profile;

/**
 * The answer to "what do we know about this reader": the profile (null when only defaults can be given), where it
 * came from, and for defaults, why.
 */
public record ProfileLookup(Profile profile, Source source, FallbackReason reason) {

  public static ProfileLookup fallback(FallbackReason reason) {
    return FALLBACKS[reason.ordinal()];
  }

  private static final ProfileLookup[] FALLBACKS;

  static {
    FallbackReason[] all = FallbackReason.values();
    FALLBACKS = new ProfileLookup[all.length];
    for (FallbackReason r : all) {
      FALLBACKS[r.ordinal()] = new ProfileLookup(null, Source.DEFAULT, r);
    }
  }
}
