package dev.ballast.stability.monitor;

import dev.ballast.engine.backend.GradStatsLayout;
import java.util.Arrays;

/**
 * Counts of values by power-of-two magnitude, as the statistics pass writes them ({@link GradStatsLayout}): bin
 * {@code b} in 1..254 holds {@code 2^(b-127) <= |x| < 2^(b-126)}, bin 0 holds zeros and float32 subnormals, bin 255
 * infinities and NaN. {@code zeros} (exact zeros, counted separately) splits bin 0, so questions such as "which
 * fraction of the non-zero values would flush to zero in fp16" have exact answers.
 */
public record Log2Histogram(long[] counts, long zeros) {
    public Log2Histogram {
        if (counts.length != GradStatsLayout.BINS)
            throw new IllegalArgumentException("a log2 histogram has " + GradStatsLayout.BINS + " bins, got " + counts.length);
        if (zeros < 0 || zeros > counts[GradStatsLayout.BIN_ZERO])
            throw new IllegalArgumentException("zeros (" + zeros + ") must be within bin 0's count " + counts[GradStatsLayout.BIN_ZERO]);
        counts = counts.clone();
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
        return new Log2Histogram(c, zeros + o.zeros);
    }

    /** The empty histogram. */
    public static Log2Histogram empty() { return new Log2Histogram(new long[GradStatsLayout.BINS], 0); }

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
