package dev.ballast.cpu.kernel;

/**
 * Row-wise softmax and log-softmax, numerically stable: each row's maximum is subtracted before
 * exponentiating, and the sum of exponentials is accumulated in double in index order. Rows run in
 * parallel. A row holding NaN gives NaN; a row of all -inf gives NaN (as PyTorch).
 */
public final class Softmax {
    private Softmax() {}

    public static void softmax(Parallel par, View x, long rows, long n, boolean log, View out) {
        if (rows * n != x.numel() || out.numel() != rows * n)
            throw new IllegalArgumentException("softmax: rows * n = " + rows + " * " + n + " does not match input ("
                    + x.numel() + " elements) and output (" + out.numel() + " elements)");
        if (rows == 0 || n == 0) return;
        int len = Math.toIntExact(n);
        long perTask = Math.max(1, Parallel.GRAIN / n);
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
}
