package io.opentime.load;

import java.util.Arrays;

/**
 * Draws reader indexes 0..n-1 from a Zipf distribution: P(k) proportional to 1 / (k+1)^s. Index 0 (the first line of
 * the tokens file) is the most frequent reader. With s = 1.0 over 100,000 readers the top 1% of readers get about
 * 62% of the opens, the top 10% about 81%, and the hottest reader alone 8% (a few keen readers open every email,
 * several times; most open once or not at all); s = 0 is uniform.
 *
 * <p>Exact inverse-CDF sampling: the cumulative distribution is precomputed once (8 bytes per reader, 8 MB for a
 * million) and each draw is a binary search over it. Seeded and thread-safe ({@link SeededStream}).
 */
final class ZipfSampler {

  private final double[] cdf;
  private final double exponent;
  private final SeededStream uniform;

  ZipfSampler(int n, double exponent, long seed) {
    if (n < 1) {
      throw new IllegalArgumentException("n must be at least 1");
    }
    this.exponent = exponent;
    this.cdf = new double[n];
    double sum = 0;
    for (int k = 0; k < n; k++) {
      sum += Math.pow(k + 1, -exponent);
      cdf[k] = sum;
    }
    for (int k = 0; k < n; k++) {
      cdf[k] /= sum;
    }
    cdf[n - 1] = 1.0;
    this.uniform = new SeededStream(seed);
  }

  /** The next reader index, in [0, n). */
  int next() {
    return indexOf(uniform.nextDouble());
  }

  /** The index whose cumulative probability first exceeds u (u in [0, 1)). */
  int indexOf(double u) {
    int i = Arrays.binarySearch(cdf, u);
    int idx = i >= 0 ? i + 1 : -i - 1; // first cdf[idx] > u
    return Math.min(idx, cdf.length - 1);
  }

  int size() {
    return cdf.length;
  }

  /** The share of all draws that go to the most frequent {@code fraction} of readers. */
  double shareOfTop(double fraction) {
    int top = (int) Math.max(1, Math.round(cdf.length * fraction));
    return cdf[Math.min(top, cdf.length) - 1];
  }

  String describe() {
    return String.format("Zipf s=%.2f over %,d readers: top 1%% of readers get %.0f%% of draws, top 10%% get %.0f%%, "
        + "the hottest reader %.2f%%", exponent, cdf.length, 100 * shareOfTop(0.01), 100 * shareOfTop(0.10),
        100 * cdf[0]);
  }
}
