package dev.ballast.cpu.kernel;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small vector loops over double work arrays whose length is a multiple of {@link #L} (rows widened by
 * {@link F32Rows}, zero-padded). Sums run in a fixed order for a given vector width (lane accumulators, then the lanes
 * first to last: a floating {@code reduceLanes} may add in any order), so results depend on neither the thread count
 * nor the JIT tier. Each loop is its own small method (C2 keeps vectors in registers only within one compilation unit).
 */
final class VecRows {
    private VecRows() {}

    static final VectorSpecies<Double> D = F32Rows.D;
    static final int L = F32Rows.L;

    static double sum(double[] v, int n) {
        DoubleVector s = DoubleVector.zero(D);
        for (int i = 0; i < n; i += L) s = s.add(DoubleVector.fromArray(D, v, i));
        return lanesInOrder(s);
    }

    static double dot(double[] a, double[] b, int n) {
        DoubleVector s = DoubleVector.zero(D);
        for (int i = 0; i < n; i += L) s = DoubleVector.fromArray(D, a, i).fma(DoubleVector.fromArray(D, b, i), s);
        return lanesInOrder(s);
    }

    /** {@code v[i] += c}. */
    static void add(double[] v, double c, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, v, i).add(c).intoArray(v, i);
    }

    /** {@code acc[i] += v[i]}. */
    static void accumulate(double[] acc, double[] v, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, acc, i).add(DoubleVector.fromArray(D, v, i)).intoArray(acc, i);
    }

    /** {@code acc[i] += a[i] b[i]}. */
    static void accumulateProduct(double[] acc, double[] a, double[] b, int n) {
        for (int i = 0; i < n; i += L)
            DoubleVector.fromArray(D, a, i).fma(DoubleVector.fromArray(D, b, i), DoubleVector.fromArray(D, acc, i)).intoArray(acc, i);
    }

    private static double lanesInOrder(DoubleVector s) {
        double t = 0;
        for (double lane : s.toArray()) t += lane;
        return t;
    }
}
