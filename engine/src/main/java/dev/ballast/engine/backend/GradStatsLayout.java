package dev.ballast.engine.backend;

import dev.ballast.engine.DType;
import java.util.List;

/**
 * The layout of {@link MultiTensorOps#multiTensorStats}'s outputs, shared by every backend and by the readers in
 * the stability layer. Per tensor, one row of {@link #COLUMNS} F64 statistics and one row of {@link #BINS} I64
 * counts of a log2-magnitude histogram.
 *
 * <p>The histogram bins a value by the exponent field of its float32 form (halves are widened first, which is
 * exact): bin {@code e} in 1..254 holds {@code 2^(e-127) <= |x| < 2^(e-126)}; bin 0 holds zeros and float32
 * subnormals ({@code |x| < 2^-126}); bin 255 holds infinities and NaN. Counting by bit pattern gives the same
 * counts on every backend, and the edges line up with the limits of every float format (fp16's smallest
 * subnormal is 2^-24, its smallest normal 2^-14, its largest finite value just under 2^16).
 */
public final class GradStatsLayout {
    private GradStatsLayout() {}

    /** Sum of squares of the gradient's finite values. */
    public static final int GRAD_SUMSQ = 0;
    /** Sum of squares of the weight's finite values (0 when no weights were given). */
    public static final int WEIGHT_SUMSQ = 1;
    /** Largest |g| over the gradient's finite values (0 when there is none). */
    public static final int GRAD_MAX_ABS = 2;
    /** Number of gradient values that are exactly zero (either sign). */
    public static final int ZEROS = 3;
    /** Number of gradient values that are NaN or infinite. */
    public static final int NON_FINITE = 4;
    /** Statistics per tensor. */
    public static final int COLUMNS = 5;

    /** Histogram bins per tensor. */
    public static final int BINS = 256;
    /** The bin of zeros and float32 subnormals. */
    public static final int BIN_ZERO = 0;
    /** The bin of infinities and NaN. */
    public static final int BIN_NON_FINITE = 255;

    /** The histogram bin of {@code x}: the biased float32 exponent of |x|. */
    public static int bin(float x) { return (Float.floatToRawIntBits(x) >>> 23) & 0xff; }

    /** The lower edge of bin {@code b} as a power of two exponent: values in bin b (1..254) are >= 2^(b-127). */
    public static int lowerExponent(int b) {
        if (b < 1 || b > 254) throw new IllegalArgumentException("bin " + b + " has no power-of-two edge (1..254 have)");
        return b - 127;
    }

    /** The bin whose values are in [2^e, 2^(e+1)), for e in -126..127. */
    public static int binOfExponent(int e) {
        if (e < -126 || e > 127) throw new IllegalArgumentException("exponent " + e + " is outside float32's normal range -126..127");
        return e + 127;
    }

    /** The argument rules every backend applies, with the same wording everywhere. */
    public static void checkArguments(List<Strided> grads, List<Strided> weights, Strided stats, Strided histogram) {
        if (weights != null && weights.size() != grads.size())
            throw new IllegalArgumentException("multiTensorStats: " + grads.size() + " gradients but " + weights.size() + " weights");
        for (int i = 0; i < grads.size(); i++) {
            floatTensor(grads.get(i), "gradient " + i);
            if (weights != null) {
                floatTensor(weights.get(i), "weight " + i);
                if (weights.get(i).numel() != grads.get(i).numel())
                    throw new IllegalArgumentException("multiTensorStats: gradient " + i + " has " + grads.get(i).numel()
                            + " elements but its weight has " + weights.get(i).numel());
            }
        }
        output(stats, DType.F64, (long) grads.size() * COLUMNS, "stats");
        output(histogram, DType.I64, (long) grads.size() * BINS, "histogram");
    }

    private static void floatTensor(Strided t, String what) {
        if (t.dtype() != DType.F32 && !t.dtype().isHalf())
            throw new IllegalArgumentException("multiTensorStats: " + what + " must be f32, f16 or bf16, got " + t.dtype());
        if (!t.isContiguous()) throw new IllegalArgumentException("multiTensorStats: " + what + " must be contiguous: " + t);
    }

    private static void output(Strided t, DType dtype, long n, String what) {
        if (t.dtype() != dtype || t.numel() != n || !t.isContiguous())
            throw new IllegalArgumentException("multiTensorStats: " + what + " must be " + n + " contiguous "
                    + dtype.name().toLowerCase(java.util.Locale.ROOT) + " elements, got " + t);
    }
}
