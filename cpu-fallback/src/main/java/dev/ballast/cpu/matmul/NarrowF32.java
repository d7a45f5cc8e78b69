package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float32 products with a column-major A (unit row stride: a transposed view such as a weight gradient's
 * {@code dY^T}) and a narrow B (at most {@link #MAX_N} columns), e.g. an input projection's weight gradient
 * {@code dPre^T x} with {@code x} of two features. The blocked path would gather all of A, element by element,
 * into row strips and pad B's few columns to a whole micro-kernel panel; here the product is computed as
 * {@code C^T = B^T A^T}: A^T is row-major, so its rows stream through the kernel as vectors read straight from
 * memory, while B^T, {@code n x k} and small, is the operand gathered (into a k-major array) scalar by scalar.
 *
 * <p>Each element of C is one chain of fused multiply-adds over k in increasing order starting from zero, as on
 * every other path ({@code fma(b, a, c) == fma(a, b, c)} exactly), and belongs to one work item (a range of A's
 * rows), so the bits equal the blocked path's and do not depend on the thread count.
 */
final class NarrowF32 {

    /** Widest B this path takes. */
    static final int MAX_N = 8;
    private static final VectorSpecies<Float> S = KernelF32.S;
    private static final int L = KernelF32.L;
    /** Rows of C one kernel pass covers: four vectors. */
    private static final int W = 4 * L;
    /** Rows of C per work item at most (m is split evenly over the threads up to this). */
    private static final int MAX_ITEM_ROWS = 4 * W;
    private static final long VB = 4L * L;
    private static final FloatVector ZERO = FloatVector.zero(S);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private NarrowF32() {}

    /** Whether {@code C = A B} with these shapes and A's strides takes this path. */
    static boolean applies(int n, long ars, long acs) {
        return n <= MAX_N && ars == 1 && acs != 1;
    }

    /** {@code C = A @ B} for one matrix; requires m, n, k > 0, {@code ars == 1}; offsets and strides in elements. */
    static void gemm(ForkJoinPool pool, int m, int n, int k,
                     MemorySegment a, long aOff, long acs,
                     MemorySegment b, long bOff, long brs, long bcs,
                     MemorySegment c, long cOff, long crs) {
        Workspace cw = Workspace.caller();
        try {
            // B^T gathered k-major: bt[p*n + j] = B[p, j], read by broadcasts.
            float[] bt = cw.f32(Math.multiplyExact(k, n));
            if (bcs == 1 && brs == n) MemorySegment.copy(b, PackF32.F, 4 * bOff, bt, 0, k * n);
            else
                for (int p = 0; p < k; p++)
                    for (int j = 0; j < n; j++) bt[p * n + j] = b.get(PackF32.F, 4 * (bOff + p * brs + j * bcs));
            // One item per thread where that is at most MAX_ITEM_ROWS rows: long rows make cheap copies.
            int itemRows = Math.min(MAX_ITEM_ROWS, BlockedF32.ceilDiv(BlockedF32.ceilDiv(m, Parallel.threads(pool)), W) * W);
            int items = BlockedF32.ceilDiv(m, itemRows);
            Parallel.forEach(pool, items, it -> item(it * itemRows, Math.min(itemRows, m - it * itemRows), n, k,
                                                     a, aOff, acs, bt, c, cOff, crs));
        } finally {
            Workspace.releaseCaller(cw);
        }
    }

    /** Rows {@code [i0, i0 + rows)} of C. */
    private static void item(int i0, int rows, int n, int k, MemorySegment a, long aOff, long acs, float[] bt,
                             MemorySegment c, long cOff, long crs) {
        int wp = BlockedF32.ceilDiv(rows, W) * W;
        int pairs = (n + 1) / 2;
        Workspace w = Workspace.worker();
        try {
            // C^T's rows [wp floats each], in pairs (the last one repeated when n is odd), lanes past `rows` unused.
            float[] acc = w.f32(2 * pairs * wp);
            for (int q = 0; q < pairs; q++) {
                int j0 = 2 * q, j1 = Math.min(j0 + 1, n - 1);
                for (int v = 0; v < wp; v += W) {
                    long a0 = 4 * (aOff + i0 + v);
                    if (rows - v >= W) pair(k, a, a0, 4 * acs, bt, j0, j1 - j0, n, acc, 2 * q * wp + v, wp);
                    else pairTail(k, a, a0, 4 * acs, bt, j0, j1 - j0, n, acc, 2 * q * wp + v, wp, rows - v);
                }
            }
            for (int j = 0; j < n; j++)
                for (int i = 0; i < rows; i++) c.set(PackF32.F, 4 * (cOff + (long) (i0 + i) * crs + j), acc[j * wp + i]);
        } finally {
            Workspace.releaseWorker(w);
        }
    }

    /**
     * Two rows of C^T over {@link #W} columns: {@code acc[o + r*pitch + x] = sum over p of bt[b0 + p*n + r*dj] *
     * A^T[p, x]} for r in {0, 1}, as one fma chain from zero in increasing p; A^T's row p starts at byte
     * {@code a0 + p*pitchA} of {@code at}. Reads A straight from its segment: a bulk copy of each row into an array
     * first took twice as long.
     */
    private static void pair(int k, MemorySegment at, long a0, long pitchA, float[] bt, int b0, int dj, int n,
                             float[] acc, int o, int pitch) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        for (int p = 0; p < k; p++) {
            long ap = a0 + p * pitchA;
            int bp = b0 + p * n;
            FloatVector v0 = FloatVector.fromMemorySegment(S, at, ap, LE), v1 = FloatVector.fromMemorySegment(S, at, ap + VB, LE);
            FloatVector v2 = FloatVector.fromMemorySegment(S, at, ap + 2 * VB, LE), v3 = FloatVector.fromMemorySegment(S, at, ap + 3 * VB, LE);
            FloatVector x = FloatVector.broadcast(S, bt[bp]);
            c00 = x.fma(v0, c00); c01 = x.fma(v1, c01); c02 = x.fma(v2, c02); c03 = x.fma(v3, c03);
            x = FloatVector.broadcast(S, bt[bp + dj]);
            c10 = x.fma(v0, c10); c11 = x.fma(v1, c11); c12 = x.fma(v2, c12); c13 = x.fma(v3, c13);
        }
        int o1 = o + pitch;
        c00.intoArray(acc, o); c01.intoArray(acc, o + L); c02.intoArray(acc, o + 2 * L); c03.intoArray(acc, o + 3 * L);
        c10.intoArray(acc, o1); c11.intoArray(acc, o1 + L); c12.intoArray(acc, o1 + 2 * L); c13.intoArray(acc, o1 + 3 * L);
    }

    /** {@link #pair} for the last {@code cols < W} columns: masked loads read nothing past them. */
    private static void pairTail(int k, MemorySegment at, long a0, long pitchA, float[] bt, int b0, int dj, int n,
                                 float[] acc, int o, int pitch, int cols) {
        VectorMask<Float> m0 = S.indexInRange(0, cols), m1 = S.indexInRange(L, cols);
        VectorMask<Float> m2 = S.indexInRange(2 * L, cols), m3 = S.indexInRange(3 * L, cols);
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        for (int p = 0; p < k; p++) {
            long ap = a0 + p * pitchA;
            int bp = b0 + p * n;
            FloatVector v0 = FloatVector.fromMemorySegment(S, at, ap, LE, m0), v1 = FloatVector.fromMemorySegment(S, at, ap + VB, LE, m1);
            FloatVector v2 = FloatVector.fromMemorySegment(S, at, ap + 2 * VB, LE, m2), v3 = FloatVector.fromMemorySegment(S, at, ap + 3 * VB, LE, m3);
            FloatVector x = FloatVector.broadcast(S, bt[bp]);
            c00 = x.fma(v0, c00); c01 = x.fma(v1, c01); c02 = x.fma(v2, c02); c03 = x.fma(v3, c03);
            x = FloatVector.broadcast(S, bt[bp + dj]);
            c10 = x.fma(v0, c10); c11 = x.fma(v1, c11); c12 = x.fma(v2, c12); c13 = x.fma(v3, c13);
        }
        int o1 = o + pitch;
        c00.intoArray(acc, o); c01.intoArray(acc, o + L); c02.intoArray(acc, o + 2 * L); c03.intoArray(acc, o + 3 * L);
        c10.intoArray(acc, o1); c11.intoArray(acc, o1 + L); c12.intoArray(acc, o1 + 2 * L); c13.intoArray(acc, o1 + 3 * L);
    }
}
