package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;

/**
 * Cache-blocked float32 product of one matrix pair: A is packed into {@link KernelF32#MR}-row strips
 * and B into {@link KernelF32#NR}-column panels (first phase of one parallel job), then its second phase
 * runs the micro-kernel over a fixed grid of (row block, column block) items, each walking k in
 * blocks of {@link #KC} so that its slice of A stays in L2 and one B panel slice in L1.
 *
 * <p>Every output tile belongs to exactly one item and is summed over k in increasing order, so
 * the result does not depend on how many threads run the items or which thread runs which.
 */
final class BlockedF32 {

    static final int KC = 256;
    /**
     * Strips per item: 16 x 8 = 128 rows, so an item's A slice (128 x 256 floats) sits in L2, and products of up to
     * 128 rows (an LSTM h128's weight gradient) are one row group, whose items pack B themselves.
     */
    static final int STRIPS_PER_ITEM = 16;
    /**
     * Panels per item at most: 16 x NR columns, so the item's C block (128 rows x 512 floats) is
     * still in L2 when the next k block comes back to it.
     */
    static final int PANELS_PER_ITEM = 16;
    /** Upper bound on elements of each packed operand; larger operands are processed in chunks. */
    static final long MAX_PACKED = 4L << 20;

    private static final int MR = KernelF32.MR, NR = KernelF32.NR;

    private BlockedF32() {}

    /** {@code C = A @ B} for one matrix; requires m, n, k > 0; offsets and strides in elements. */
    static void gemm(ForkJoinPool pool, int m, int n, int k,
                     MemorySegment a, long aOff, long ars, long acs,
                     MemorySegment b, long bOff, long brs, long bcs,
                     MemorySegment c, long cOff, long crs) {
        int threads = Parallel.threads(pool);
        int mcMax = (int) Math.min(roundUp(m, MR), Math.max(MR, MAX_PACKED / k / MR * MR));
        int ncMax = (int) Math.min(roundUp(n, NR), Math.max(NR, MAX_PACKED / k / NR * NR));
        Workspace cw = Workspace.caller();
        try {
            float[] ap = cw.f32(Math.multiplyExact(2 * Math.max(mcMax, ncMax), k));
            int bBase = mcMax * k; // packed A first, then packed B, in one buffer
            for (int ic = 0; ic < m; ic += mcMax) {
                for (int jc = 0; jc < n; jc += ncMax) {
                    chunk(pool, threads, Math.min(mcMax, m - ic), Math.min(ncMax, n - jc), k,
                          a, aOff + ic * ars, ars, acs, b, bOff + jc * bcs, brs, bcs,
                          c, cOff + ic * crs + jc, crs, ap, bBase, jc == 0, ic == 0 || ncMax < n);
                }
            }
        } finally {
            Workspace.releaseCaller(cw);
        }
    }

    private static void chunk(ForkJoinPool pool, int threads, int m, int n, int k,
                              MemorySegment a, long aOff, long ars, long acs,
                              MemorySegment b, long bOff, long brs, long bcs,
                              MemorySegment c, long cOff, long crs,
                              float[] buf, int bBase, boolean packA, boolean packB) {
        int strips = ceilDiv(m, MR);
        int panels = ceilDiv(n, NR);
        // Phase 0 packs (each operand only when its chunk changed); phase 1 computes over a grid
        // of row blocks x column blocks.
        int mGroups = ceilDiv(strips, STRIPS_PER_ITEM);
        // One row group: each item packs its own B panels, k block by k block (no other item needs them).
        boolean itemsPackB = mGroups == 1;
        int aItems = packA ? Math.min(strips, 4 * threads) : 0;
        int bItems = packB && !itemsPackB ? Math.min(panels, 4 * threads) : 0;
        int nGroups = ceilDiv(panels, PANELS_PER_ITEM);
        if (threads > 1) while (mGroups * nGroups < 4 * threads && nGroups * 2 <= panels) nGroups *= 2;
        final int ng = nGroups;
        Parallel.forEach(pool, new int[]{aItems + bItems, mGroups * ng}, (phase, it) -> {
            if (phase == 1) {
                int mg = it / ng, g = it % ng;
                int s0 = mg * strips / mGroups, s1 = (mg + 1) * strips / mGroups, q0 = g * panels / ng, q1 = (g + 1) * panels / ng;
                if (itemsPackB) blockPackingB(m, n, k, buf, b, bOff, brs, bcs, c, cOff, crs, s0, s1, q0, q1);
                else block(m, n, k, buf, bBase, c, cOff, crs, s0, s1, q0, q1);
            } else if (it < aItems) {
                Workspace w = Workspace.worker();
                try {
                    int s0 = it * strips / aItems, s1 = (it + 1) * strips / aItems;
                    if (ars == 1 && acs != 1) {
                        PackF32.stripsColumnMajor(a, aOff, acs, s0 * MR, Math.min(m, s1 * MR) - s0 * MR, k, buf, s0 * MR * k);
                    } else {
                        float[] tmp = w.f32(MR * k);
                        for (int s = s0; s < s1; s++)
                            PackF32.stripA(a, aOff, ars, acs, s * MR, Math.min(MR, m - s * MR), 0, k, buf, s * MR * k, tmp);
                    }
                } finally {
                    Workspace.releaseWorker(w);
                }
            } else {
                int j = it - aItems;
                Workspace w = Workspace.worker();
                try {
                    float[] tmp = brs == 1 ? w.f32(NR * k) : null;
                    for (int q = j * panels / bItems, e = (j + 1) * panels / bItems; q < e; q++)
                        PackF32.panelB(b, bOff, brs, bcs, k, q * NR, Math.min(NR, n - q * NR), buf, bBase + q * NR * k, tmp);
                } finally {
                    Workspace.releaseWorker(w);
                }
            }
        });
    }

    /** Strips {@code [s0, s1)} x panels {@code [q0, q1)} of C from the operands packed in phase 0. */
    private static void block(int m, int n, int k, float[] buf, int bBase, MemorySegment c, long cOff, long crs,
                              int s0, int s1, int q0, int q1) {
        Workspace w = Workspace.worker();
        try {
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                for (int q = q0; q < q1; q++)
                    panelTimesStrips(m, n, k, pc, kc, buf, buf, bBase + q * NR * k + pc * NR, q, s0, s1, c, cOff, crs, w);
            }
        } finally {
            Workspace.releaseWorker(w);
        }
    }

    /**
     * {@link #block} for an item that holds every row of C: it packs its own B panels one k block at a time, each
     * used at once by every strip while it is in L1/L2, instead of phase 0 packing all of B (a k x n buffer written
     * out to L3 and read back).
     */
    private static void blockPackingB(int m, int n, int k, float[] buf, MemorySegment b, long bOff, long brs, long bcs,
                                      MemorySegment c, long cOff, long crs, int s0, int s1, int q0, int q1) {
        Workspace w = Workspace.worker();
        try {
            int kcMax = Math.min(KC, k);
            float[] bp = w.f32((q1 - q0) * NR * kcMax);
            float[] tmp = brs == 1 ? w.f32b(NR * kcMax) : null;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                for (int q = q0; q < q1; q++)
                    PackF32.panelB(b, bOff + pc * brs, brs, bcs, kc, q * NR, Math.min(NR, n - q * NR), bp, (q - q0) * NR * kc, tmp);
                for (int q = q0; q < q1; q++)
                    panelTimesStrips(m, n, k, pc, kc, buf, bp, (q - q0) * NR * kc, q, s0, s1, c, cOff, crs, w);
            }
        } finally {
            Workspace.releaseWorker(w);
        }
    }

    /**
     * Block {@code [pc, pc + kc)} of k for panel q (packed at {@code bp[bi]}) against strips {@code [s0, s1)} of the
     * packed A in {@code ap}: continues each tile's fma chains (starts them when pc is 0).
     */
    private static void panelTimesStrips(int m, int n, int k, int pc, int kc, float[] ap, float[] bp, int bi, int q,
                                         int s0, int s1, MemorySegment c, long cOff, long crs, Workspace w) {
        long rowBytes = 4 * crs;
        boolean acc = pc > 0;
        int col = q * NR;
        int cols = Math.min(NR, n - col);
        for (int s = s0; s < s1; s++) {
            int row = s * MR;
            int rows = Math.min(MR, m - row);
            int ai = s * MR * k + pc * MR;
            long c0 = 4 * (cOff + row * crs + col);
            if (rows == MR && cols == NR) KernelF32.tile(kc, ap, ai, bp, bi, c, c0, rowBytes, acc);
            else KernelF32.edge(kc, ap, ai, bp, bi, c, c0, rowBytes, acc, rows, cols, w.edge);
        }
    }

    static int ceilDiv(int x, int y) { return (x + y - 1) / y; }

    static long roundUp(long x, int y) { return (x + y - 1) / y * y; }
}
