package dev.ballast.cpu.kernel;

/**
 * Row-wise softmax and log-softmax, numerically stable: each row's maximum is subtracted before
 * exponentiating, and the sum of exponentials is accumulated in double (F32 rows: {@link SoftmaxF32}'s vector
 * loops; other dtypes in index order). Rows run in parallel. A row holding NaN gives NaN; a row of all -inf gives
 * NaN (as PyTorch). The gradients take one pass per row too.
 */
import dev.ballast.engine.DType;

public final class Softmax {
    private Softmax() {}

    public static void softmax(Parallel par, View x, long rows, long n, boolean log, View out) {
        if (rows * n != x.numel() || out.numel() != rows * n)
            throw new IllegalArgumentException("softmax: rows * n = " + rows + " * " + n + " does not match input ("
                    + x.numel() + " elements) and output (" + out.numel() + " elements)");
        if (rows == 0 || n == 0) return;
        int len = Math.toIntExact(n);
        long perTask = Math.max(1, Parallel.GRAIN / n);
        if (x.dtype() == DType.F32 && out.dtype() == DType.F32) {
            par.forEach(Parallel.tasks(rows, perTask), t -> {
                SoftmaxF32.Work w = new SoftmaxF32.Work(len);
                for (long r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++)
                    SoftmaxF32.forward(w, x.seg(), 4 * (x.offset() + r * n), out.seg(), 4 * (out.offset() + r * n), len, log);
            });
            return;
        }
        par.forEach(Parallel.tasks(rows, perTask), t -> {
            double[] v = new double[len];
            for (long r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) {
                Buffers.loadD(x.dtype(), x.seg(), x.offset() + r * n, 1, v, len);
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < len; i++) max = Math.max(max, v[i]);
                double sum = 0;
                if (log) {
                    for (int i = 0; i < len; i++) { v[i] -= max; sum += Math.exp(v[i]); }
                    double ls = Math.log(sum);
                    for (int i = 0; i < len; i++) v[i] -= ls;
                } else {
                    for (int i = 0; i < len; i++) { v[i] = Math.exp(v[i] - max); sum += v[i]; }
                    for (int i = 0; i < len; i++) v[i] /= sum;
                }
                Buffers.storeD(out.dtype(), out.seg(), out.offset() + r * n, 1, v, len);
            }
        });
    }

    /**
     * The gradient of {@link #softmax} for contiguous rows, given its output {@code y} and the output's gradient
     * {@code g} (same dtype and shape): {@code y (g - sum(g y))}, or {@code g - exp(y) sum(g)} for log-softmax.
     */
    public static void backward(Parallel par, View y, View g, long rows, long n, boolean log, View out) {
        if (rows * n != y.numel() || g.numel() != rows * n || out.numel() != rows * n)
            throw new IllegalArgumentException("softmax backward: rows * n = " + rows + " * " + n + " does not match output ("
                    + y.numel() + "), gradient (" + g.numel() + ") and result (" + out.numel() + " elements)");
        if (y.dtype() != g.dtype() || y.dtype() != out.dtype() || !y.dtype().isFloating())
            throw new IllegalArgumentException("softmax backward: output, gradient and result must share one floating dtype, got "
                    + y.dtype() + ", " + g.dtype() + " and " + out.dtype());
        if (rows == 0 || n == 0) return;
        int len = Math.toIntExact(n);
        long perTask = Math.max(1, Parallel.GRAIN / n);
        boolean f32 = y.dtype() == DType.F32;
        par.forEach(Parallel.tasks(rows, perTask), t -> {
            SoftmaxF32.Work w = f32 ? new SoftmaxF32.Work(len) : null;
            double[] yv = f32 ? null : new double[len], gv = f32 ? null : new double[len];
            for (long r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) {
                long yo = y.offset() + r * n, go = g.offset() + r * n, oo = out.offset() + r * n;
                if (f32) {
                    SoftmaxF32.backward(w, y.seg(), 4 * yo, g.seg(), 4 * go, out.seg(), 4 * oo, len, log);
                    continue;
                }
                Buffers.loadD(y.dtype(), y.seg(), yo, 1, yv, len);
                Buffers.loadD(g.dtype(), g.seg(), go, 1, gv, len);
                double s = 0;
                if (log) {
                    for (int i = 0; i < len; i++) s += gv[i];
                    for (int i = 0; i < len; i++) yv[i] = gv[i] - Math.exp(yv[i]) * s;
                } else {
                    for (int i = 0; i < len; i++) s += gv[i] * yv[i];
                    for (int i = 0; i < len; i++) yv[i] = yv[i] * (gv[i] - s);
                }
                Buffers.storeD(out.dtype(), out.seg(), oo, 1, yv, len);
            }
        });
    }
}
