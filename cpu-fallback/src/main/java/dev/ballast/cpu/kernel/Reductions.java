package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.ReduceOp;
import java.lang.foreign.MemorySegment;

/**
 * Reductions of a contiguous {@code [outer, n, inner]} view over its middle axis.
 *
 * <p><b>SUM is deterministic</b>: the partition depends only on the shape, never on the thread
 * count. With {@code inner == 1} each row is cut into blocks of {@link #BLOCK} elements; each block
 * is summed in double with a fixed vector-lane order (F32 values are widened to double as they are
 * loaded), and the block sums are combined pairwise (a fixed halving tree) in index order, in double.
 * With {@code inner > 1} columns are summed along n in slabs of a fixed number of rows (F32: float
 * accumulation over at most {@value #FLOAT_ROWS} rows at a time, added into double), and slab partials
 * are combined pairwise in double. The result is rounded once to the output dtype; for F32 it is
 * normally the correctly rounded sum. Integer sums are exact in long (wrapping), so order does not matter.
 *
 * <p>MAX and MIN propagate NaN; ARGMAX and ARGMIN write the first index of the extreme value, NaN
 * counting as larger (ARGMAX) or smaller (ARGMIN) than everything, so the first NaN wins.
 */
public final class Reductions {
    private Reductions() {}

    /** Elements per block of a row reduction. */
    public static final int BLOCK = 4096;
    /** Columns per task of a column reduction. */
    static final int COLS = 256;
    /** Rows per float accumulation run of an F32 column sum. */
    static final int FLOAT_ROWS = 64;

    public static void reduce(Parallel par, ReduceOp op, View x, long outer, long n, long inner, View out) {
        if (outer < 0 || n < 0 || inner < 0 || outer * n * inner != x.numel())
            throw new IllegalArgumentException("reduce " + op + ": [outer, n, inner] = [" + outer + ", " + n + ", " + inner
                    + "] does not cover the input's " + x.numel() + " elements");
        long outs = outer * inner;
        if (out.numel() != outs)
            throw new IllegalArgumentException("reduce " + op + ": output has " + out.numel() + " elements, expected outer * inner = " + outs);
        if (outs == 0) return;
        if (n == 0) {
            if (op != ReduceOp.SUM)
                throw new IllegalArgumentException(op + " of an empty axis (n = 0) is undefined: it has no identity; only SUM (giving 0) is allowed");
            Copies.fill(par, out, 0.0);
            return;
        }
        boolean floating = x.floating();
        if (op == ReduceOp.SUM) {
            if (inner == 1) sumRows(par, x, outer, n, out, floating);
            else sumColumns(par, x, outer, n, inner, out, floating);
        } else {
            if (inner == 1) extremeRows(par, op, x, outer, n, out, floating);
            else extremeColumns(par, op, x, outer, n, inner, out, floating);
        }
    }

    // ---------------------------------------------------------------- SUM, inner == 1

    private static void sumRows(Parallel par, View x, long outer, long n, View out, boolean floating) {
        long nb = (n + BLOCK - 1) / BLOCK;              // blocks per row
        long blocks = outer * nb;
        long blocksPerTask = Math.max(1, Parallel.GRAIN / Math.min(n, BLOCK));
        double[] dp = floating ? new double[Math.toIntExact(blocks)] : null;
        long[] lp = floating ? null : new long[Math.toIntExact(blocks)];
        par.forEach(Parallel.tasks(blocks, blocksPerTask), t -> {
            double[] buf = floating ? new double[BLOCK] : null;
            long[] lbuf = floating ? null : new long[BLOCK];
            long end = Math.min(blocks, (t + 1) * blocksPerTask);
            for (long q = t * blocksPerTask; q < end; q++) {
                long o = q / nb, b = q % nb;
                long start = x.offset() + o * n + b * BLOCK;
                int len = (int) Math.min(BLOCK, n - b * BLOCK);
                if (floating) dp[(int) q] = blockSum(x, start, len, buf);
                else {
                    Buffers.loadL(x.dtype(), x.seg(), start, 1, lbuf, len);
                    long s = 0;
                    for (int i = 0; i < len; i++) s += lbuf[i];
                    lp[(int) q] = s;
                }
            }
        });
        if (floating) {
            double[] res = new double[(int) outer];
            for (int o = 0; o < outer; o++) res[o] = pairwise(dp, (int) (o * nb), (int) nb);
            Buffers.storeD(out.dtype(), out.seg(), out.offset(), 1, res, (int) outer);
        } else {
            long[] res = new long[(int) outer];
            for (int o = 0; o < outer; o++) {
                long s = 0;
                for (int b = 0; b < nb; b++) s += lp[(int) (o * nb + b)];
                res[o] = s;
            }
            Buffers.storeL(out.dtype(), out.seg(), out.offset(), 1, res, (int) outer);
        }
    }

    /** Sum of {@code len} contiguous elements in a fixed order, in double. */
    private static double blockSum(View x, long start, int len, double[] buf) {
        MemorySegment s = x.seg();
        switch (x.dtype()) {
            case F32 -> { return VecF32.sum(s, start * 4, len); }
            case F64 -> {
                double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                long b = start * 8;
                int i = 0;
                for (; i + 4 <= len; i += 4) {
                    a0 += s.get(JAVA_DOUBLE, b + 8L * i);
                    a1 += s.get(JAVA_DOUBLE, b + 8L * i + 8);
                    a2 += s.get(JAVA_DOUBLE, b + 8L * i + 16);
                    a3 += s.get(JAVA_DOUBLE, b + 8L * i + 24);
                }
                double r = (a0 + a1) + (a2 + a3);
                for (; i < len; i++) r += s.get(JAVA_DOUBLE, b + 8L * i);
                return r;
            }
            default -> {
                Buffers.loadD(x.dtype(), s, start, 1, buf, len);
                double r = 0;
                for (int i = 0; i < len; i++) r += buf[i];
                return r;
            }
        }
    }

    /** Pairwise sum of {@code count} values from {@code from}, splitting in halves (a fixed tree). */
    static double pairwise(double[] p, int from, int count) {
        if (count == 1) return p[from];
        if (count == 2) return p[from] + p[from + 1];
        int half = count / 2;
        return pairwise(p, from, half) + pairwise(p, from + half, count - half);
    }

    // ---------------------------------------------------------------- SUM, inner > 1

    private static void sumColumns(Parallel par, View x, long outer, long n, long inner, View out, boolean floating) {
        int w = (int) Math.min(inner, COLS);
        long colChunks = (inner + w - 1) / w;
        long slabRows = Math.max(FLOAT_ROWS, Parallel.GRAIN / w);   // rows per slab: a fixed function of the shape
        long slabs = (n + slabRows - 1) / slabRows;
        long outs = outer * inner;
        double[] dp = floating ? new double[Math.toIntExact(outs * slabs)] : null;   // [slab][outer*inner]
        long[] lp = floating ? null : new long[Math.toIntExact(outs * slabs)];
        long units = outer * colChunks * slabs;
        par.forEachUnit(units, Math.max(1, Parallel.GRAIN / (Math.min(n, slabRows) * w)), t -> {
            long slab = t % slabs, rest = t / slabs;
            long cc = rest % colChunks, o = rest / colChunks;
            long i0 = cc * w;
            int cw = (int) Math.min(w, inner - i0);
            long j0 = slab * slabRows, j1 = Math.min(n, j0 + slabRows);
            long rowBase = x.offset() + o * n * inner + i0;          // element (o, 0, i0)
            int dst = (int) (slab * outs + o * inner + i0);
            if (floating) {
                double[] acc = new double[cw];
                if (x.dtype() == DType.F32) {
                    float[] facc = new float[cw];
                    for (long j = j0; j < j1; j += FLOAT_ROWS) {
                        int rows = (int) Math.min(FLOAT_ROWS, j1 - j);
                        java.util.Arrays.fill(facc, 0f);
                        VecF32.sumRows(x.seg(), (rowBase + j * inner) * 4, inner * 4, rows, facc, cw);
                        for (int i = 0; i < cw; i++) acc[i] += facc[i];
                    }
                } else {
                    double[] row = new double[cw];
                    for (long j = j0; j < j1; j++) {
                        Buffers.loadD(x.dtype(), x.seg(), rowBase + j * inner, 1, row, cw);
                        for (int i = 0; i < cw; i++) acc[i] += row[i];
                    }
                }
                System.arraycopy(acc, 0, dp, dst, cw);
            } else {
                long[] acc = new long[cw], row = new long[cw];
                for (long j = j0; j < j1; j++) {
                    Buffers.loadL(x.dtype(), x.seg(), rowBase + j * inner, 1, row, cw);
                    for (int i = 0; i < cw; i++) acc[i] += row[i];
                }
                System.arraycopy(acc, 0, lp, dst, cw);
            }
        });
        int o = (int) outs;
        if (floating) {
            double[] res = new double[o], col = new double[(int) slabs];
            for (int k = 0; k < o; k++) {
                for (int s = 0; s < slabs; s++) col[s] = dp[s * o + k];
                res[k] = pairwise(col, 0, (int) slabs);
            }
            Buffers.storeD(out.dtype(), out.seg(), out.offset(), 1, res, o);
        } else {
            long[] res = new long[o];
            for (int k = 0; k < o; k++) for (int s = 0; s < slabs; s++) res[k] += lp[s * o + k];
            Buffers.storeL(out.dtype(), out.seg(), out.offset(), 1, res, o);
        }
    }

    // ---------------------------------------------------------------- MAX / MIN / ARGMAX / ARGMIN

    private static boolean isMax(ReduceOp op) { return op == ReduceOp.MAX || op == ReduceOp.ARGMAX; }

    private static boolean isArg(ReduceOp op) { return op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN; }

    /** Whether v replaces the current best b (strictly better; NaN beats any number, the first NaN stays). */
    private static boolean better(boolean max, double v, double b) {
        if (b != b) return false;
        if (v != v) return true;
        return max ? v > b : v < b;
    }

    private static void extremeRows(Parallel par, ReduceOp op, View x, long outer, long n, View out, boolean floating) {
        boolean max = isMax(op);
        long nb = (n + BLOCK - 1) / BLOCK;
        long blocks = outer * nb;
        double[] dv = new double[Math.toIntExact(blocks)];
        long[] lv = new long[(int) blocks], idx = new long[(int) blocks];
        long blocksPerTask = Math.max(1, Parallel.GRAIN / Math.min(n, BLOCK));
        par.forEach(Parallel.tasks(blocks, blocksPerTask), t -> {
            double[] buf = floating ? new double[BLOCK] : null;
            long[] lbuf = floating ? null : new long[BLOCK];
            long end = Math.min(blocks, (t + 1) * blocksPerTask);
            for (long q = t * blocksPerTask; q < end; q++) {
                long o = q / nb, b = q % nb;
                long start = x.offset() + o * n + b * BLOCK;
                int len = (int) Math.min(BLOCK, n - b * BLOCK);
                int best = 0;
                if (floating) {
                    Buffers.loadD(x.dtype(), x.seg(), start, 1, buf, len);
                    double bv = buf[0];
                    for (int i = 1; i < len; i++) if (better(max, buf[i], bv)) { bv = buf[i]; best = i; }
                    dv[(int) q] = bv;
                } else {
                    Buffers.loadL(x.dtype(), x.seg(), start, 1, lbuf, len);
                    long bv = lbuf[0];
                    for (int i = 1; i < len; i++) if (max ? lbuf[i] > bv : lbuf[i] < bv) { bv = lbuf[i]; best = i; }
                    lv[(int) q] = bv;
                }
                idx[(int) q] = b * BLOCK + best;
            }
        });
        double[] rd = new double[(int) outer];
        long[] rl = new long[(int) outer];
        for (int o = 0; o < outer; o++) {
            int q0 = (int) (o * nb), best = q0;
            for (int q = q0 + 1; q < q0 + nb; q++) {
                if (floating ? better(max, dv[q], dv[best]) : (max ? lv[q] > lv[best] : lv[q] < lv[best])) best = q;
            }
            if (isArg(op)) rl[o] = idx[best];
            else if (floating) rd[o] = dv[best];
            else rl[o] = lv[best];
        }
        if (floating && !isArg(op)) Buffers.storeD(out.dtype(), out.seg(), out.offset(), 1, rd, (int) outer);
        else Buffers.storeL(out.dtype(), out.seg(), out.offset(), 1, rl, (int) outer);
    }

    private static void extremeColumns(Parallel par, ReduceOp op, View x, long outer, long n, long inner, View out, boolean floating) {
        boolean max = isMax(op), arg = isArg(op);
        int w = (int) Math.min(inner, COLS);
        long colChunks = (inner + w - 1) / w;
        par.forEachUnit(outer * colChunks, Math.max(1, Parallel.GRAIN / (n * w)), t -> {
            long cc = t % colChunks, o = t / colChunks;
            long i0 = cc * w;
            int cw = (int) Math.min(w, inner - i0);
            long rowBase = x.offset() + o * n * inner + i0;
            long[] bi = new long[cw];
            long dstOff = out.offset() + o * inner + i0;
            if (floating) {
                double[] bv = new double[cw], row = new double[cw];
                Buffers.loadD(x.dtype(), x.seg(), rowBase, 1, bv, cw);
                for (long j = 1; j < n; j++) {
                    Buffers.loadD(x.dtype(), x.seg(), rowBase + j * inner, 1, row, cw);
                    for (int i = 0; i < cw; i++) if (better(max, row[i], bv[i])) { bv[i] = row[i]; bi[i] = j; }
                }
                if (arg) Buffers.storeL(out.dtype(), out.seg(), dstOff, 1, bi, cw);
                else Buffers.storeD(out.dtype(), out.seg(), dstOff, 1, bv, cw);
            } else {
                long[] bv = new long[cw], row = new long[cw];
                Buffers.loadL(x.dtype(), x.seg(), rowBase, 1, bv, cw);
                for (long j = 1; j < n; j++) {
                    Buffers.loadL(x.dtype(), x.seg(), rowBase + j * inner, 1, row, cw);
                    for (int i = 0; i < cw; i++) if (max ? row[i] > bv[i] : row[i] < bv[i]) { bv[i] = row[i]; bi[i] = j; }
                }
                Buffers.storeL(out.dtype(), out.seg(), dstOff, 1, arg ? bi : bv, cw);
            }
        });
    }
}
