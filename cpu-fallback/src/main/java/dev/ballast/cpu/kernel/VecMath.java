package dev.ballast.cpu.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float32 exp, tanh and sigmoid built from IEEE additions, multiplications, fused multiply-adds, divisions and bit
 * operations only (Cephes' expf and tanhf: range reduction by ln 2 and a degree-5 polynomial; a odd polynomial for
 * {@code |x| < 0.625}, {@code 1 - 2 / (exp(2|x|) + 1)} beyond), in vector and scalar forms whose bits agree lane for
 * lane. Every operation they use is exactly rounded, so the result is the same whether the Vector API runs
 * interpreted (its per-lane Java fallback) or compiled by C2: the JDK's vector math library (SVML) computes float
 * exp/tanh with other bits than the fallback's {@code Math.exp}, which made a training step's result depend on
 * whether the JIT had compiled the kernel yet (a resumed run no longer matched an uninterrupted one). Accuracy against
 * float64 ({@code VecMathTest}): exp within 1 ulp, tanh 1.5, sigmoid 2.5 (the rounding of {@code 1 / (1 + e)} adds to
 * exp's error).
 */
public final class VecMath {
    private VecMath() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in two: the first has few mantissa bits, so {@code n * LN2_HI} is exact for the n in range. */
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds to an integer (to nearest, ties to even), which then sits in the low mantissa bits. */
    private static final float MAGIC = 12582912f;
    private static final int MAGIC_BITS = 0x4B400000;
    /** exp's input range: exp(HI) is finite and exp(LO) normal, so 2^n is built from exponent bits directly. */
    private static final float HI = 88.3f, LO = -87.3f;
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    private static final float T0 = -5.70498872745e-3f, T1 = 2.06390887954e-2f, T2 = -5.37397155531e-2f, T3 = 1.33314422036e-1f,
            T4 = -3.33332819422e-1f;
    private static final float SMALL = 0.625f;

    // The vector constants are static final vectors, not a helper returning FloatVector.broadcast: C2 sometimes left
    // such a helper out of line inside the large LSTM cell compilations, and then every call allocated a boxed vector
    // and ran the lane-by-lane fallback (JFR: 2.9 GB of float[] from here in 10 s of lstm steps).
    private static final FloatVector NEG_LN2_HI = FloatVector.broadcast(S, -LN2_HI), NEG_LN2_LO = FloatVector.broadcast(S, -LN2_LO),
            VP2 = FloatVector.broadcast(S, P2), VP3 = FloatVector.broadcast(S, P3), VP4 = FloatVector.broadcast(S, P4),
            VP5 = FloatVector.broadcast(S, P5), VT2 = FloatVector.broadcast(S, T2), VT3 = FloatVector.broadcast(S, T3),
            VT4 = FloatVector.broadcast(S, T4), ONE = FloatVector.broadcast(S, 1f), TWO = FloatVector.broadcast(S, 2f);

    /** e^x; inputs beyond [-87.3, 88.3] give the value at the bound (NaN stays NaN). */
    public static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector t = x.fma(LOG2E, MAGIC);
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(NEG_LN2_HI, x);
        r = n.fma(NEG_LN2_LO, r);
        FloatVector p = r.fma(P0, P1).fma(r, VP2).fma(r, VP3).fma(r, VP4).fma(r, VP5);
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector bits = (IntVector) t.reinterpretAsInts();
        FloatVector scale = bits.add(127 - MAGIC_BITS).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(scale);
    }

    /** The scalar twin of {@link #exp(FloatVector)}, lane for lane the same bits. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) + (127 - MAGIC_BITS)) << 23);
        return y * scale;
    }

    /** {@code 1 / (1 + e^-x)}. */
    public static FloatVector sigmoid(FloatVector x) {
        return ONE.div(exp(x.neg()).add(1f));
    }

    public static float sigmoid(float x) { return 1f / (exp(-x) + 1f); }

    /** tanh: the odd polynomial below 0.625 in magnitude, {@code 1 - 2 / (e^{2|x|} + 1)} with x's sign above. */
    public static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector small = z.fma(T0, T1).fma(z, VT2).fma(z, VT3).fma(z, VT4).mul(z).fma(x, x);
        FloatVector e = exp(ax.add(ax)).add(1f);
        FloatVector large = ONE.sub(TWO.div(e));
        large = large.blend(large.neg(), x.compare(VectorOperators.LT, 0f));
        VectorMask<Float> isSmall = ax.compare(VectorOperators.LT, SMALL);
        return large.blend(small, isSmall);
    }

    /** The scalar twin of {@link #tanh(FloatVector)}. */
    public static float tanh(float x) {
        float ax = Math.abs(x);
        if (ax < SMALL) {
            float z = x * x;
            return Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(z, T0, T1), z, T2), z, T3), z, T4) * z, x, x);
        }
        float large = 1f - 2f / (exp(ax + ax) + 1f);
        return x < 0f ? -large : large;
    }
}
