package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The path for small products (m*n*k below {@link CpuMatmul#SMALL_WORK}), where packing and
 * threads cost more than they save: B is copied into a dense array (F32: rows padded to whole vectors, in a
 * per-thread buffer), then each element of C is built as a sequence of fused multiply-adds over k in increasing
 * order (F32: four rows at a time, one vector of columns per pass). Requires m, n, k > 0 and
 * {@code k * n} small enough to fit an array.
 */
final class SmallGemm {

    private static final ValueLayout.OfFloat F = PackF32.F;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SmallGemm() {}

    /** Rows of C computed together, sharing each load of B. */
    private static final int ROWS = 4;
    private static final VectorSpecies<Float> S = KernelF32.S;
    private static final int L = KernelF32.L;

    /** Per-thread scratch: B padded to whole vectors, then {@link #ROWS} rows of A, then one padded row of C. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    static void f32(int m, int n, int k,
                    MemorySegment a, long aOff, long ars, long acs,
                    MemorySegment b, long bOff, long brs, long bcs,
                    MemorySegment c, long cOff, long crs) {
        int np = (n + L - 1) / L * L; // B's rows padded with zeros to whole vectors
        float[][] holder = SCRATCH.get();
        int need = k * np + ROWS * k + ROWS * np;
        if (holder[0].length < need) holder[0] = new float[need];
        float[] buf = holder[0];
        int aBase = k * np, cBase = aBase + ROWS * k;
        for (int p = 0; p < k; p++) {
            long row = bOff + p * brs;
            if (bcs == 1) MemorySegment.copy(b, F, 4 * row, buf, p * np, n);
            else for (int j = 0; j < n; j++) buf[p * np + j] = b.get(F, 4 * (row + j * bcs));
            for (int j = n; j < np; j++) buf[p * np + j] = 0f;
        }
        for (int i0 = 0; i0 < m; i0 += ROWS) {
            int rows = Math.min(ROWS, m - i0);
            for (int r = 0; r < ROWS; r++) {
                long row = aOff + (long) (i0 + Math.min(r, rows - 1)) * ars; // missing rows repeat the last (discarded)
                if (acs == 1) MemorySegment.copy(a, F, 4 * row, buf, aBase + r * k, k);
                else for (int p = 0; p < k; p++) buf[aBase + r * k + p] = a.get(F, 4 * (row + p * acs));
            }
            for (int v = 0; v < np; v += L) rowsTimesPanel(buf, aBase, k, np, v, cBase);
            for (int r = 0; r < rows; r++) MemorySegment.copy(buf, cBase + r * np, c, F, 4 * (cOff + (long) (i0 + r) * crs), n);
        }
    }

    /**
     * Columns {@code v .. v+L-1} of {@link #ROWS} rows of C: a fused multiply-add chain over k in increasing order per
     * element (the blocked kernel's order, so the bits match it), into {@code buf[cBase + r*np + v ...]}.
     */
    private static void rowsTimesPanel(float[] buf, int aBase, int k, int np, int v, int cBase) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < k; p++) {
            FloatVector bv = FloatVector.fromArray(S, buf, p * np + v);
            c0 = FloatVector.broadcast(S, buf[aBase + p]).fma(bv, c0);
            c1 = FloatVector.broadcast(S, buf[aBase + k + p]).fma(bv, c1);
            c2 = FloatVector.broadcast(S, buf[aBase + 2 * k + p]).fma(bv, c2);
            c3 = FloatVector.broadcast(S, buf[aBase + 3 * k + p]).fma(bv, c3);
        }
        c0.intoArray(buf, cBase + v);
        c1.intoArray(buf, cBase + np + v);
        c2.intoArray(buf, cBase + 2 * np + v);
        c3.intoArray(buf, cBase + 3 * np + v);
    }

    static void f64(int m, int n, int k,
                    MemorySegment a, long aOff, long ars, long acs,
                    MemorySegment b, long bOff, long brs, long bcs,
                    MemorySegment c, long cOff, long crs) {
        double[] bd = new double[k * n];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) bd[p * n + j] = b.get(D, 8 * (bOff + p * brs + j * bcs));
        double[] acc = new double[n];
        for (int i = 0; i < m; i++) {
            java.util.Arrays.fill(acc, 0.0);
            long ai = aOff + i * ars;
            for (int p = 0; p < k; p++) {
                double x = a.get(D, 8 * (ai + p * acs));
                int o = p * n;
                for (int j = 0; j < n; j++) acc[j] = Math.fma(x, bd[o + j], acc[j]);
            }
            MemorySegment.copy(acc, 0, c, D, 8 * (cOff + i * crs), n);
        }
    }
}
