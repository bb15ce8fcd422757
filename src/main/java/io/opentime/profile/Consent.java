package io.opentime.profile;

import java.util.List;

/**
 * The reader's consent flags, read from two profile fields ({@code consent_tracking},
 * {@code consent_personalization}: {@code true} or {@code false}, written by consent events). A flag that is not
 * there counts as given unless explicit consent is required; any other value counts as not given. A profile that
 * could not be read at all has no consent: callers treat that as not given.
 */
public final class Consent {

  public static final String TRACKING_FIELD = "consent_tracking";
  public static final String PERSONALIZATION_FIELD = "consent_personalization";
  public static final List<String> FIELDS = List.of(TRACKING_FIELD, PERSONALIZATION_FIELD);

  private final int tracking;
  private final int personalization;
  private final boolean requireExplicit;

  public Consent(ProfileSchema schema, boolean requireExplicit) {
    this.tracking = schema.indexOf(TRACKING_FIELD);
    this.personalization = schema.indexOf(PERSONALIZATION_FIELD);
    if (tracking < 0 || personalization < 0) {
      throw new IllegalArgumentException("the profile schema must read the consent fields " + FIELDS);
    }
    this.requireExplicit = requireExplicit;
  }

  /** May opens and clicks of this reader be recorded? False for a null (unreadable) profile. */
  public boolean tracking(Profile profile) {
    return given(profile, tracking);
  }

  /** May this reader's data shape the answer? False for a null (unreadable) profile. */
  public boolean personalization(Profile profile) {
    return given(profile, personalization);
  }

  private boolean given(Profile profile, int field) {
    if (profile == null) {
      return false;
    }
    String v = profile.value(field);
    if (v == null) {
      return !requireExplicit;
    }
    return "true".equals(v);
  }
}
