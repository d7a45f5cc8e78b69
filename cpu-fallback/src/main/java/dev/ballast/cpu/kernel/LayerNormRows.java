package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import dev.ballast.engine.DType;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Layer normalization over contiguous rows, forward and backward, one pass per row (see
 * {@link dev.ballast.engine.backend.FusedNorms} for the formulas): each row is widened to double, computed there and
 * rounded once on store; the row statistics are kept in F64. Rows are cut into tasks of a fixed size; the weight and
 * bias gradients are summed per task and the task sums added in task order, so results do not depend on the thread
 * count.
 */
public final class LayerNormRows {
    private LayerNormRows() {}

    private static final VectorSpecies<Double> D = VecRows.D;
    private static final int L = VecRows.L;

    /** {@code y = (x - mean) rstd weight + bias} per row; {@code weight}/{@code bias} may be null; mean and rstd are F64 [rows]. */
    public static void forward(Parallel par, View x, View weight, View bias, long rows, long n, double eps, View y, View mean, View rstd) {
        check(x, rows, n, y, mean, rstd);
        if (rows == 0 || n == 0) return;
        int len = Math.toIntExact(n), p = F32Rows.padded(len);
        double[] w = weight == null ? null : row(weight, 0, len, p), b = bias == null ? null : row(bias, 0, len, p);
        long perTask = Math.max(1, Parallel.GRAIN / n);
        par.forEach(Parallel.tasks(rows, perTask), t -> {
            double[] v = new double[p];
            for (long r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) {
                load(x, x.offset() + r * n, v, len, p);
                double mu = VecRows.sum(v, p) / len;
                VecRows.add(v, -mu, p);
                Arrays.fill(v, len, p, 0);
                double rs = 1 / Math.sqrt(VecRows.dot(v, v, p) / len + eps);
                if (w == null && b == null) scale(v, rs, p);
                else affine(v, rs, w, b, p);
                store(y, y.offset() + r * n, v, len);
                mean.seg().setAtIndex(JAVA_DOUBLE, mean.offset() + r, mu);
                rstd.seg().setAtIndex(JAVA_DOUBLE, rstd.offset() + r, rs);
            }
        });
    }

    /** The gradients of {@link #forward}; {@code weight} may be null, {@code dx}, {@code dweight}, {@code dbias} each null when not needed. */
    public static void backward(Parallel par, View x, View weight, View mean, View rstd, View g, long rows, long n,
                                View dx, View dweight, View dbias) {
        check(x, rows, n, g, mean, rstd);
        if (rows == 0 || n == 0) return;
        int len = Math.toIntExact(n), p = F32Rows.padded(len);
        double[] w = weight == null ? null : row(weight, 0, len, p);
        long perTask = Math.max(1, Parallel.GRAIN / n);
        int tasks = Math.toIntExact(Parallel.tasks(rows, perTask));
        double[][] dw = dweight == null ? null : new double[tasks][p], db = dbias == null ? null : new double[tasks][p];
        par.forEach(tasks, t -> {
            double[] xh = new double[p], gv = new double[p], gw = w == null ? gv : new double[p];
            for (long r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) {
                double mu = mean.seg().getAtIndex(JAVA_DOUBLE, mean.offset() + r), rs = rstd.seg().getAtIndex(JAVA_DOUBLE, rstd.offset() + r);
                load(x, x.offset() + r * n, xh, len, p);
                load(g, g.offset() + r * n, gv, len, p);
                normalized(xh, mu, rs, p);
                Arrays.fill(xh, len, p, 0);
                if (dw != null) VecRows.accumulateProduct(dw[(int) t], gv, xh, p);
                if (db != null) VecRows.accumulate(db[(int) t], gv, p);
                if (dx == null) continue;
                if (w != null) product(gv, w, gw, p);
                double a = VecRows.sum(gw, p) / len, b = VecRows.dot(gw, xh, p) / len;
                inputGradient(gw, xh, a, b, rs, p);
                store(dx, dx.offset() + r * n, gw, len);
            }
        });
        if (dw != null) store(dweight, dweight.offset(), sumInOrder(dw, p), len);
        if (db != null) store(dbias, dbias.offset(), sumInOrder(db, p), len);
    }

    private static void check(View x, long rows, long n, View y, View mean, View rstd) {
        if (x.numel() != rows * n || y.numel() != rows * n || mean.numel() != rows || rstd.numel() != rows)
            throw new IllegalArgumentException("layer norm: rows * n = " + rows + " * " + n + " does not match x (" + x.numel()
                    + " elements), y/g (" + y.numel() + ") and the statistics (" + mean.numel() + ", " + rstd.numel() + ")");
        if (mean.dtype() != DType.F64 || rstd.dtype() != DType.F64)
            throw new IllegalArgumentException("layer norm: the row statistics are F64, got " + mean.dtype() + " and " + rstd.dtype());
    }

    private static double[] sumInOrder(double[][] parts, int p) {
        double[] s = new double[p];
        for (double[] part : parts) VecRows.accumulate(s, part, p);
        return s;
    }

    /** A whole operand row as doubles, zero-padded to {@code p}. */
    private static double[] row(View v, long off, int len, int p) {
        double[] d = new double[p];
        load(v, v.offset() + off, d, len, p);
        return d;
    }

    private static void load(View v, long off, double[] d, int len, int p) {
        if (v.dtype() == DType.F32) F32Rows.widen(v.seg(), 4 * off, d, len, p);
        else {
            Buffers.loadD(v.dtype(), v.seg(), off, 1, d, len);
            Arrays.fill(d, len, p, 0);
        }
    }

    private static void store(View v, long off, double[] d, int len) {
        if (v.dtype() == DType.F32) F32Rows.narrow(d, v.seg(), 4 * off, len);
        else Buffers.storeD(v.dtype(), v.seg(), off, 1, d, len);
    }

    private static void scale(double[] v, double s, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, v, i).mul(s).intoArray(v, i);
    }

    /** {@code v = v s w + b} (a null weight is 1, a null bias 0). */
    private static void affine(double[] v, double s, double[] w, double[] b, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector y = DoubleVector.fromArray(D, v, i).mul(s);
            if (w != null) y = y.mul(DoubleVector.fromArray(D, w, i));
            if (b != null) y = y.add(DoubleVector.fromArray(D, b, i));
            y.intoArray(v, i);
        }
    }

    /** {@code x = (x - mu) rs}. */
    private static void normalized(double[] x, double mu, double rs, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, x, i).sub(mu).mul(rs).intoArray(x, i);
    }

    private static void product(double[] a, double[] b, double[] out, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, a, i).mul(DoubleVector.fromArray(D, b, i)).intoArray(out, i);
    }

    /** {@code gw = rs (gw - a - xh b)}. */
    private static void inputGradient(double[] gw, double[] xh, double a, double b, double rs, int n) {
        for (int i = 0; i < n; i += L)
            DoubleVector.fromArray(D, gw, i).sub(a).sub(DoubleVector.fromArray(D, xh, i).mul(b)).mul(rs).intoArray(gw, i);
    }
}
