package dev.ballast.stability.monitor;

import dev.ballast.engine.backend.GradStatsLayout;
import java.util.Arrays;

/**
 * Counts of values by power-of-two magnitude, as the statistics pass writes them ({@link GradStatsLayout}): bin
 * {@code b} in 1..254 holds {@code 2^(b-127) <= |x| < 2^(b-126)}, bin 0 holds zeros and float32 subnormals, bin 255
 * infinities and NaN. {@code zeros} (exact zeros, counted separately) splits bin 0, so questions such as "which
 * fraction of the non-zero values would flush to zero in fp16" have exact answers.
 *
 * <p>{@code scale} is the factor the counted values carry: 1 when the bins hold the gradients' own magnitudes. The
 * monitor reads fp16 gradients before the chain unscales them (they are {@code g * lossScale}) and moves the bins back
 * with {@link #unscaled}: for a power-of-two scale (dynamic loss scaling always uses one) that is an exact shift by
 * {@code log2(scale)} whole bins, and the result has scale 1. For a static scale that is not a power of two no whole
 * shift is exact, so the bins stay those of the scaled values and {@code scale} says so: every exponent a caller
 * passes ({@link #countBelow}, {@link #fractionBelow}, {@link #quantileUpperEdge}) is then in scaled terms, i.e. ask
 * about {@code |g| < 2^e} with {@code e + log2(scale)}; the TensorBoard histogram shifts its bucket edges by the
 * fractional {@code log2(scale)}, which is exact.
 */
public record Log2Histogram(long[] counts, long zeros, double scale) {
    public Log2Histogram {
        if (counts.length != GradStatsLayout.BINS)
            throw new IllegalArgumentException("a log2 histogram has " + GradStatsLayout.BINS + " bins, got " + counts.length);
        if (zeros < 0 || zeros > counts[GradStatsLayout.BIN_ZERO])
            throw new IllegalArgumentException("zeros (" + zeros + ") must be within bin 0's count " + counts[GradStatsLayout.BIN_ZERO]);
        if (!(scale > 0) || Double.isInfinite(scale))
            throw new IllegalArgumentException("a histogram's scale must be finite and > 0, got " + scale);
        counts = counts.clone();
    }

    /** A histogram of the values' own magnitudes (scale 1). */
    public Log2Histogram(long[] counts, long zeros) { this(counts, zeros, 1); }

    /** Whether {@code s} is a power of two, so that dividing by it moves every normal float32 magnitude by whole bins. */
    public static boolean powerOfTwo(double s) {
        return s > 0 && !Double.isInfinite(s) && s == Math.scalb(1.0, Math.getExponent(s));
    }

    /**
     * The histogram of the values divided by {@code factor} (the loss scale they were read at). A power-of-two factor
     * {@code 2^k} moves every bin 1..254 down by {@code k}, exactly what the statistics pass would have counted for the
     * divided float32 values: bins that fall below 1 join bin 0 (float32 subnormals), bins that would pass 254 stay at
     * 254 (a divided value past float32's range; only a scale below 1 does that). Zeros, non-finite values and, for a
     * factor above 1, float32 subnormals keep their bins; for a factor below 1 the subnormals stay in bin 0 too (their
     * binade is not known: a lower bound). Any other factor leaves the bins as they are and multiplies {@link #scale}.
     */
    public Log2Histogram unscaled(double factor) {
        if (!(factor > 0) || Double.isInfinite(factor))
            throw new IllegalArgumentException("unscale factor must be finite and > 0, got " + factor);
        if (factor == 1) return this;
        if (!powerOfTwo(factor)) return new Log2Histogram(counts, zeros, scale * factor);
        int k = Math.getExponent(factor);
        long[] c = new long[GradStatsLayout.BINS];
        c[GradStatsLayout.BIN_ZERO] = counts[GradStatsLayout.BIN_ZERO];
        c[GradStatsLayout.BIN_NON_FINITE] = counts[GradStatsLayout.BIN_NON_FINITE];
        for (int b = 1; b < GradStatsLayout.BIN_NON_FINITE; b++) {
            int to = Math.clamp((long) b - k, 0, GradStatsLayout.BIN_NON_FINITE - 1);
            c[to] += counts[b];
        }
        return new Log2Histogram(c, zeros, scale);
    }

    @Override public long[] counts() { return counts.clone(); }

    /** Every value counted. */
    public long total() { return Arrays.stream(counts).sum(); }

    /** Finite non-zero values. */
    public long nonZeroFinite() { return total() - zeros - counts[GradStatsLayout.BIN_NON_FINITE]; }

    /** Count in bin {@code b}. */
    public long count(int b) { return counts[b]; }

    /** Finite non-zero values with {@code |x| < 2^exponent}; exponent in -126..128 (float32 subnormals always count). */
    public long countBelow(int exponent) {
        if (exponent < -126 || exponent > 128)
            throw new IllegalArgumentException("exponent must be in -126..128, got " + exponent);
        long n = counts[GradStatsLayout.BIN_ZERO] - zeros;
        for (int b = 1; b < exponent + 127; b++) n += counts[b];
        return n;
    }

    /** Finite values with {@code |x| >= 2^exponent}; exponent in -126..128. */
    public long countAtOrAbove(int exponent) {
        return nonZeroFinite() - countBelow(exponent);
    }

    /** {@link #countBelow} as a fraction of the non-zero finite values (0 when there are none). */
    public double fractionBelow(int exponent) {
        long nz = nonZeroFinite();
        return nz == 0 ? 0 : (double) countBelow(exponent) / nz;
    }

    /** {@link #countAtOrAbove} as a fraction of the non-zero finite values (0 when there are none). */
    public double fractionAtOrAbove(int exponent) {
        long nz = nonZeroFinite();
        return nz == 0 ? 0 : (double) countAtOrAbove(exponent) / nz;
    }

    /** Adds another histogram's counts (e.g. every parameter's, for a whole-model view). */
    public Log2Histogram plus(Log2Histogram o) {
        long[] c = counts.clone();
        for (int b = 0; b < c.length; b++) c[b] += o.counts[b];
        if (scale != o.scale && total() > 0 && o.total() > 0)
            throw new IllegalArgumentException("cannot add histograms of values at different scales (" + scale + " and " + o.scale + ")");
        return new Log2Histogram(c, zeros + o.zeros, total() > 0 ? scale : o.scale);
    }

    /** The empty histogram. */
    public static Log2Histogram empty() { return new Log2Histogram(new long[GradStatsLayout.BINS], 0, 1); }

    /**
     * The magnitude {@code 2^e} below which a fraction {@code q} (0..1) of the non-zero finite values lie, read at bin
     * edges (the upper edge of the bin where the cumulative count reaches q); 0 when there are no such values.
     */
    public double quantileUpperEdge(double q) {
        long nz = nonZeroFinite();
        if (nz == 0) return 0;
        long target = (long) Math.ceil(q * nz), cum = counts[GradStatsLayout.BIN_ZERO] - zeros;
        if (cum >= target) return 0x1p-126;
        for (int b = 1; b < GradStatsLayout.BIN_NON_FINITE; b++) {
            cum += counts[b];
            if (cum >= target) return Math.scalb(1.0, b - 126);
        }
        return Double.MAX_VALUE;
    }
}
