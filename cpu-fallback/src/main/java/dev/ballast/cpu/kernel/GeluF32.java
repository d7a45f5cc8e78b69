package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The exact (erf) GELU and its gradient for contiguous F32 rows in one pass: each run of floats is widened to
 * doubles, computed there with a relative error below 2e-13 and rounded once on store, so results are within an
 * ulp of the float64 value (the FDLIBM path of {@link Gelu} needs two rational functions, two {@code exp} calls
 * and a pass per region; this needs one division, one polynomial and one {@code exp}).
 *
 * <p>With {@code z = |x|/sqrt 2} and {@code t = 2/(2+z)}: {@code erfc(z) = t P(y) exp(-x^2/2)} where {@code P} is
 * a degree-16 polynomial in {@code y = 2(t - t0)/(1 - t0) - 1} interpolating {@code erfc(z) exp(z^2)/t} at
 * Chebyshev nodes on {@code z in [0, 10.5]} ({@code t0 = 0.16}; computed with numpy from {@code math.erfc};
 * maximum relative error 1.6e-13; past 10.5, where the float result is below the smallest subnormal, {@code z} is
 * clamped). {@code exp(-x^2/2)} also gives the density for the gradient; it comes from {@link VecExp}, whose bits
 * do not depend on the JIT tier (the vector math library's {@code exp} would make them depend on it).
 *
 * <p>Loops live in small methods (C2 keeps vectors in registers only within one compilation unit).
 */
final class GeluF32 {
    private GeluF32() {}

    private static final VectorSpecies<Double> D = F32Rows.D;
    private static final int L = F32Rows.L;

    private static final double INV_SQRT2 = 0.70710678118654752440;
    private static final double INV_SQRT_2PI = 0.39894228040143267794;
    private static final double Z_MAX = 10.5;
    /** y = A t + B maps t in [0.16, 1] to [-1, 1]. */
    private static final double A = 2.380952380952381, B = -1.380952380952381;

    /** Elements per pass: the work arrays of a chunk stay in the L1 cache. */
    static final int CHUNK = 512;

    /** Work arrays for one task (one thread): the widened inputs, {@code exp(-x^2/2)} and {@code erfc(|x|/sqrt 2)/2}. */
    static final class Work {
        final double[] x = new double[CHUNK], g = new double[CHUNK], e = new double[CHUNK], h = new double[CHUNK];
    }

    /** {@code out[i] = gelu(x[i])} for {@code n} floats at byte addresses {@code xb}, {@code ob}. */
    static void forward(Work w, MemorySegment x, long xb, MemorySegment out, long ob, int n) {
        for (int c = 0; c < n; c += CHUNK) {
            int m = Math.min(CHUNK, n - c), padded = F32Rows.padded(m);
            F32Rows.widen(x, xb + 4L * c, w.x, m, padded);
            minusHalfSquare(w.x, w.e, padded);
            VecExp.exp(w.e, w.e, padded);
            halfErfc(w.x, w.e, w.h, padded);
            values(w.x, w.h, padded);
            F32Rows.narrow(w.h, out, ob + 4L * c, m);
        }
    }

    /** {@code out[i] = g[i] gelu'(x[i])} for {@code n} floats at byte addresses {@code xb}, {@code gb}, {@code ob}. */
    static void backward(Work w, MemorySegment x, long xb, MemorySegment g, long gb, MemorySegment out, long ob, int n) {
        for (int c = 0; c < n; c += CHUNK) {
            int m = Math.min(CHUNK, n - c), padded = F32Rows.padded(m);
            F32Rows.widen(x, xb + 4L * c, w.x, m, padded);
            F32Rows.widen(g, gb + 4L * c, w.g, m, padded);
            minusHalfSquare(w.x, w.e, padded);
            VecExp.exp(w.e, w.e, padded);
            halfErfc(w.x, w.e, w.h, padded);
            gradients(w.x, w.g, w.e, w.h, padded);
            F32Rows.narrow(w.h, out, ob + 4L * c, m);
        }
    }


    /** {@code h = x Phi(x)}, where {@code h} holds {@code erfc(|x|/sqrt 2)/2}; -0 at -inf (the formula gives -inf times a tiny value). */
    private static void values(double[] x, double[] h, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(D, x, i), hv = DoubleVector.fromArray(D, h, i);
            DoubleVector cdf = DoubleVector.broadcast(D, 1.0).sub(hv).blend(hv, xv.compare(VectorOperators.LT, 0.0));
            xv.mul(cdf).blend(-0.0, xv.compare(VectorOperators.EQ, Double.NEGATIVE_INFINITY)).intoArray(h, i);
        }
    }

    /** {@code h = g (Phi(x) + x phi(x))}, where {@code e = exp(-x^2/2)} and {@code h} holds {@code erfc(|x|/sqrt 2)/2}; the limits 1 and 0 at +inf and -inf. */
    private static void gradients(double[] x, double[] g, double[] e, double[] h, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(D, x, i), hv = DoubleVector.fromArray(D, h, i);
            DoubleVector cdf = DoubleVector.broadcast(D, 1.0).sub(hv).blend(hv, xv.compare(VectorOperators.LT, 0.0));
            DoubleVector d = xv.mul(DoubleVector.fromArray(D, e, i)).fma(K0, cdf)
                    .blend(1.0, xv.compare(VectorOperators.EQ, Double.POSITIVE_INFINITY))
                    .blend(0.0, xv.compare(VectorOperators.EQ, Double.NEGATIVE_INFINITY));
            d.mul(DoubleVector.fromArray(D, g, i)).intoArray(h, i);
        }
    }

    /** {@code h = erfc(|x|/sqrt 2)/2 = t P(y) e / 2}, given {@code e = exp(-x^2/2)}. */
    private static void halfErfc(double[] x, double[] e, double[] h, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector z = DoubleVector.fromArray(D, x, i).abs().mul(INV_SQRT2).min(Z_MAX);
            DoubleVector t = DoubleVector.broadcast(D, 2.0).div(z.add(2.0));
            DoubleVector y = t.fma(A, B);
            DoubleVector p = y.fma(2.444037369836412e-08, -2.6723215970549495e-08).fma(y, K1)
                    .fma(y, K2).fma(y, K3).fma(y, K4)
                    .fma(y, K5).fma(y, K6).fma(y, K7)
                    .fma(y, K8).fma(y, K9).fma(y, K10)
                    .fma(y, K11).fma(y, K12).fma(y, K13)
                    .fma(y, K14).fma(y, K15);
            t.mul(p).mul(DoubleVector.fromArray(D, e, i)).mul(0.5).intoArray(h, i);
        }
    }

    /** {@code e = -x^2/2}, the argument of the density's exp. */
    private static void minusHalfSquare(double[] x, double[] e, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(D, x, i);
            xv.mul(xv).mul(-0.5).intoArray(e, i);
        }
    }

    // Constants as vectors made once (K0, K1, ... in order of first use): a helper returning a broadcast vector was sometimes left out of line by C2 in a
    // large compilation (every call then allocated a boxed vector and ran the lane-by-lane fallback).
    private static final DoubleVector K0 = DoubleVector.broadcast(D, INV_SQRT_2PI);
    private static final DoubleVector K1 = DoubleVector.broadcast(D, -1.8725877698916916e-07);
    private static final DoubleVector K2 = DoubleVector.broadcast(D, 4.711766131595087e-07);
    private static final DoubleVector K3 = DoubleVector.broadcast(D, 2.781012012581983e-07);
    private static final DoubleVector K4 = DoubleVector.broadcast(D, -3.548604320281593e-06);
    private static final DoubleVector K5 = DoubleVector.broadcast(D, 5.687688176781952e-06);
    private static final DoubleVector K6 = DoubleVector.broadcast(D, 1.4204691774836131e-05);
    private static final DoubleVector K7 = DoubleVector.broadcast(D, -7.116571739746878e-05);
    private static final DoubleVector K8 = DoubleVector.broadcast(D, 2.819391055650041e-06);
    private static final DoubleVector K9 = DoubleVector.broadcast(D, 0.00062517566374853);
    private static final DoubleVector K10 = DoubleVector.broadcast(D, -0.0006719574908432025);
    private static final DoubleVector K11 = DoubleVector.broadcast(D, -0.0063273420843662585);
    private static final DoubleVector K12 = DoubleVector.broadcast(D, 0.006307919471457259);
    private static final DoubleVector K13 = DoubleVector.broadcast(D, 0.1035209934287883);
    private static final DoubleVector K14 = DoubleVector.broadcast(D, 0.3271879313795223);
    private static final DoubleVector K15 = DoubleVector.broadcast(D, 0.5694087224462924);
}
