package dev.ballast.cpu.kernel;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * Walks an N-d iteration space, shared by several strided operands, as a sequence of rows along the
 * last dimension. Dimensions of size 1 are dropped and neighbouring dimensions that are contiguous
 * for every operand are merged first, so a contiguous tensor becomes a single long row. The element
 * range is cut into tasks of {@link Parallel#GRAIN} elements that run in parallel; each task gets
 * its own {@link RowKernel} (and so its own work buffers).
 */
public final class Rows {
    private Rows() {}

    /** Processes {@code len} consecutive elements of one row; {@code offs[k]} is operand k's element offset at the row start. */
    public interface RowKernel {
        void row(long[] offs, int len);
    }

    /** A shape and per-operand strides after dropping unit dimensions and merging contiguous ones. */
    public record Plan(long[] shape, long[][] strides) {
        /** Operand k's stride along the last (row) dimension. */
        public long inner(int k) { return strides[k][shape.length - 1]; }

        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    /** Simplifies {@code shape} with one stride array per operand. */
    public static Plan plan(long[] shape, long[]... strides) {
        int ops = strides.length;
        int r = shape.length;
        long[] sh = new long[Math.max(r, 1)];
        long[][] st = new long[ops][Math.max(r, 1)];
        int m = 0;
        for (int d = 0; d < r; d++) {
            if (shape[d] == 1) continue;
            if (shape[d] == 0) return new Plan(new long[] {0}, new long[ops][1]);
            if (m > 0) {
                boolean merge = true;
                for (int k = 0; k < ops; k++) if (st[k][m - 1] != strides[k][d] * shape[d]) { merge = false; break; }
                if (merge) {
                    sh[m - 1] *= shape[d];
                    for (int k = 0; k < ops; k++) st[k][m - 1] = strides[k][d];
                    continue;
                }
            }
            sh[m] = shape[d];
            for (int k = 0; k < ops; k++) st[k][m] = strides[k][d];
            m++;
        }
        if (m == 0) { sh[0] = 1; m = 1; for (int k = 0; k < ops; k++) st[k][0] = 0; }
        long[][] outStrides = new long[ops][];
        for (int k = 0; k < ops; k++) outStrides[k] = Arrays.copyOf(st[k], m);
        return new Plan(Arrays.copyOf(sh, m), outStrides);
    }

    /** Runs the kernels over every row of the plan; {@code base[k]} is operand k's starting element offset. */
    public static void run(Parallel par, Plan plan, long[] base, Supplier<RowKernel> kernels) {
        long n = plan.numel();
        if (n == 0) return;
        par.forEach(Parallel.tasks(n, Parallel.GRAIN), t -> {
            long start = t * Parallel.GRAIN;
            runRange(plan, base, start, Math.min(n, start + Parallel.GRAIN), kernels.get());
        });
    }

    /** Runs one kernel over the linear element range {@code [start, end)} of the plan. */
    static void runRange(Plan plan, long[] base, long start, long end, RowKernel k) {
        long[] shape = plan.shape();
        long[][] strides = plan.strides();
        int r = shape.length, ops = base.length;
        long[] idx = new long[r];
        long rem = start;
        for (int d = r - 1; d >= 0; d--) { idx[d] = rem % shape[d]; rem /= shape[d]; }
        long[] offs = new long[ops];
        for (int q = 0; q < ops; q++) {
            long o = base[q];
            for (int d = 0; d < r; d++) o += idx[d] * strides[q][d];
            offs[q] = o;
        }
        long[] rowOffs = new long[ops];
        long pos = start;
        int last = r - 1;
        while (pos < end) {
            int len = (int) Math.min(shape[last] - idx[last], end - pos);
            System.arraycopy(offs, 0, rowOffs, 0, ops);
            k.row(rowOffs, len);
            pos += len;
            idx[last] += len;
            for (int q = 0; q < ops; q++) offs[q] += len * strides[q][last];
            for (int d = last; d > 0 && idx[d] == shape[d]; d--) {       // carry into outer dimensions
                idx[d] = 0;
                idx[d - 1]++;
                for (int q = 0; q < ops; q++) offs[q] += strides[q][d - 1] - shape[d] * strides[q][d];
            }
        }
    }
}
