package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax and log-softmax of contiguous F32 rows, and their gradients, with vector loops: a row is widened to
 * double, computed there ({@link VecExp}'s {@code exp}, whose bits do not depend on the JIT tier) and rounded once
 * on store. Sums come from {@link VecRows} (a fixed order), so results do not depend on the thread count. Each pass is its own small loop method (C2 keeps vectors in
 * registers only within one compilation unit).
 */
final class SoftmaxF32 {
    private SoftmaxF32() {}

    private static final VectorSpecies<Double> D = F32Rows.D;
    private static final int L = F32Rows.L;

    /** Work arrays for rows of {@code n}, one set per task (thread). */
    static final class Work {
        final double[] a, b;

        Work(int n) {
            a = new double[F32Rows.padded(n)];
            b = new double[F32Rows.padded(n)];
        }
    }

    /** One row: {@code out = softmax(x)} or {@code log_softmax(x)}; a row holding NaN, or all -inf, gives NaN. */
    static void forward(Work w, MemorySegment x, long xb, MemorySegment out, long ob, int n, boolean log) {
        int p = F32Rows.padded(n);
        double[] v = w.a, e = w.b;
        F32Rows.widen(x, xb, v, n, p);
        Arrays.fill(v, n, p, Double.NEGATIVE_INFINITY); // padding: never the maximum, exp gives 0
        VecRows.add(v, -max(v, p), p);
        VecExp.exp(v, e, p);
        double sum = VecRows.sum(e, p);
        if (log) {
            VecRows.add(v, -Math.log(sum), p);
            F32Rows.narrow(v, out, ob, n);
        } else {
            divide(e, sum, p);
            F32Rows.narrow(e, out, ob, n);
        }
    }

    /**
     * One row of the gradient, given the forward output {@code y} and the output's gradient {@code g}:
     * {@code y (g - sum(g y))} for softmax, {@code g - exp(y) sum(g)} for log-softmax.
     */
    static void backward(Work w, MemorySegment y, long yb, MemorySegment g, long gb, MemorySegment out, long ob, int n, boolean log) {
        int p = F32Rows.padded(n);
        double[] yv = w.a, gv = w.b;
        F32Rows.widen(y, yb, yv, n, p);
        F32Rows.widen(g, gb, gv, n, p); // zero padding: the padded lanes add nothing to the sums
        if (log) {
            double s = VecRows.sum(gv, p);
            VecExp.exp(yv, yv, p);
            minusScaled(gv, yv, s, p);
            F32Rows.narrow(yv, out, ob, n);
        } else {
            double dot = VecRows.dot(yv, gv, p);
            productOfDifference(yv, gv, dot, p);
            F32Rows.narrow(yv, out, ob, n);
        }
    }

    static double max(double[] v, int n) {
        DoubleVector m = DoubleVector.broadcast(D, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i += L) m = m.max(DoubleVector.fromArray(D, v, i));
        return m.reduceLanes(VectorOperators.MAX); // max is exact in any order (NaN propagates)
    }

    static void divide(double[] v, double c, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, v, i).div(c).intoArray(v, i);
    }

    /** {@code e[i] = g[i] - e[i] s}. */
    private static void minusScaled(double[] g, double[] e, double s, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, e, i).mul(-s).add(DoubleVector.fromArray(D, g, i)).intoArray(e, i);
    }

    /** {@code y[i] = y[i] (g[i] - dot)}. */
    private static void productOfDifference(double[] y, double[] g, double dot, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, g, i).sub(dot).mul(DoubleVector.fromArray(D, y, i)).intoArray(y, i);
    }
}
