package dev.ballast.cpu.kernel;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code exp} of doubles up to 709 over arrays with the Vector API, built from adds, multiplies, fmas and bit
 * operations only, so its bits are the same whether C2 has compiled the loop or the Vector API's per-lane fallback
 * runs it (the vector math library's {@code exp} differs from {@link Math#exp} in the last bits, and a step's result
 * must not depend on the JIT tier: a resumed run must match an uninterrupted one). Cody-Waite reduction
 * {@code a = k ln2 + r}, {@code |r| <= ln2/2}, then a degree-12 Taylor polynomial (truncation below 2e-16 relative)
 * scaled by {@code 2^k} through the exponent bits: within a few ulps of {@code Math.exp}, ample for results that are
 * rounded to float. Arguments below -708 give 0 (where {@code e^a} leaves the normal doubles), NaN stays NaN.
 */
final class VecExp {
    private VecExp() {}

    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    static final int L = D.length();

    private static final double LOG2E = 1.4426950408889634;
    private static final double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    /** 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer, held in the low mantissa bits. */
    private static final double ROUNDER = 6755399441055744.0;
    private static final long ROUNDER_BITS = Double.doubleToRawLongBits(ROUNDER);
    /** Below this, e^a is not a normal double: the result is 0. */
    private static final double FLOOR = -708;

    /** {@code out[i] = exp(a[i])} for {@code i < n} (a multiple of {@link #L}), every {@code a[i] <= 709} or NaN; may be in place. */
    static void exp(double[] a, double[] out, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector av = DoubleVector.fromArray(D, a, i);
            DoubleVector x = av.max(FLOOR);
            DoubleVector shifted = x.fma(LOG2E, ROUNDER);
            DoubleVector kd = shifted.sub(ROUNDER); // k, the nearest integer to x log2(e), as a double
            DoubleVector r = kd.fma(MINUS_LN2_LO, kd.fma(MINUS_LN2_HI, x));
            DoubleVector p = r.fma(1.0 / 479001600, 1.0 / 39916800).fma(r, INV_FACT10).fma(r, INV_FACT9)
                    .fma(r, INV_FACT8).fma(r, INV_FACT7).fma(r, INV_FACT6).fma(r, INV_FACT5).fma(r, INV_FACT4)
                    .fma(r, INV_FACT3).fma(r, HALF).fma(r, ONE).fma(r, ONE);
            LongVector kBits = (LongVector) shifted.reinterpretAsLongs();
            DoubleVector scale = kBits.sub(ROUNDER_BITS - 1023).lanewise(VectorOperators.LSHL, 52).reinterpretAsDoubles();
            p.mul(scale).blend(0.0, av.compare(VectorOperators.LT, FLOOR)).intoArray(out, i);
        }
    }

    // Constants as vectors made once: a helper returning a broadcast vector was sometimes left out of line by C2 in a
    // large compilation (every call then allocated a boxed vector and ran the lane-by-lane fallback).
    private static final DoubleVector MINUS_LN2_LO = DoubleVector.broadcast(D, -LN2_LO);
    private static final DoubleVector MINUS_LN2_HI = DoubleVector.broadcast(D, -LN2_HI);
    private static final DoubleVector INV_FACT10 = DoubleVector.broadcast(D, 1.0 / 3628800);
    private static final DoubleVector INV_FACT9 = DoubleVector.broadcast(D, 1.0 / 362880);
    private static final DoubleVector INV_FACT8 = DoubleVector.broadcast(D, 1.0 / 40320);
    private static final DoubleVector INV_FACT7 = DoubleVector.broadcast(D, 1.0 / 5040);
    private static final DoubleVector INV_FACT6 = DoubleVector.broadcast(D, 1.0 / 720);
    private static final DoubleVector INV_FACT5 = DoubleVector.broadcast(D, 1.0 / 120);
    private static final DoubleVector INV_FACT4 = DoubleVector.broadcast(D, 1.0 / 24);
    private static final DoubleVector INV_FACT3 = DoubleVector.broadcast(D, 1.0 / 6);
    private static final DoubleVector HALF = DoubleVector.broadcast(D, 0.5);
    private static final DoubleVector ONE = DoubleVector.broadcast(D, 1.0);
}
