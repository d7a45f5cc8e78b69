package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;

/**
 * A float32 right-hand operand B ({@code k x n}) packed once into the micro-kernel's column panels, for many products
 * {@code C = A B} with the same B: a recurrent layer's {@code h W_hh^T} at every time step, as cuDNN and PyTorch's
 * CPU RNNs keep their packed weights across steps. Each product packs only its A (the few rows it is given) and runs
 * on the calling thread, so callers split rows across threads themselves.
 *
 * <p>Every element of C is one chain of fused multiply-adds over k in increasing order, starting from zero: the
 * order {@link CpuMatmul#gemmF32} uses on every path, so the bits equal those of the unpacked product.
 */
public final class PackedF32 {
    private static final int MR = KernelF32.MR, NR = KernelF32.NR;
    /** Rows of A the kernel takes together: callers splitting rows across threads waste least in multiples of it. */
    public static final int ROWS = MR;

    private final int k, n;
    private final float[] panels;

    private PackedF32(int k, int n, float[] panels) {
        this.k = k;
        this.n = n;
        this.panels = panels;
    }

    /** Packs B ({@code k x n}, element offset and strides {@code rs}, {@code cs}: any layout, transposed views included). */
    public static PackedF32 pack(MemorySegment b, long off, long rs, long cs, int k, int n) {
        if (k <= 0 || n <= 0) throw new IllegalArgumentException("packed operand needs k, n > 0, got k=" + k + " n=" + n);
        int panelCount = BlockedF32.ceilDiv(n, NR);
        float[] dst = new float[Math.multiplyExact(panelCount * NR, k)];
        float[] tmp = rs == 1 ? new float[NR * k] : null;
        for (int q = 0; q < panelCount; q++)
            PackF32.panelB(b, off, rs, cs, k, q * NR, Math.min(NR, n - q * NR), dst, q * NR * k, tmp);
        return new PackedF32(k, n, dst);
    }

    public int k() { return k; }

    public int n() { return n; }

    /**
     * {@code C = A B} for the {@code m} rows of A ({@code m x k}, row stride {@code ars}, unit column stride) into C
     * (row stride {@code crs}, unit column stride), on the calling thread. C must not overlap A.
     */
    public void multiply(int m, MemorySegment a, long aOff, long ars, MemorySegment c, long cOff, long crs) {
        if (m <= 0) return;
        int strips = BlockedF32.ceilDiv(m, MR);
        Workspace w = Workspace.worker();
        try {
            float[] buf = w.f32(strips * MR * k);
            float[] tmp = TMP.get();
            if (tmp.length < MR * k) TMP.set(tmp = new float[MR * k]);
            for (int s = 0; s < strips; s++) PackF32.stripA(a, aOff, ars, 1, s * MR, Math.min(MR, m - s * MR), 0, k, buf, s * MR * k, tmp);
            long rowBytes = 4 * crs;
            int panelCount = BlockedF32.ceilDiv(n, NR);
            // Panel outer, strips inner: one panel (k x NR) stays in L1/L2 while every strip of A passes over it.
            for (int q = 0; q < panelCount; q++) {
                int col = q * NR, cols = Math.min(NR, n - col), bi = q * NR * k;
                for (int s = 0; s < strips; s++) {
                    int row = s * MR, rows = Math.min(MR, m - row);
                    long c0 = 4 * (cOff + row * crs + col);
                    if (rows == MR && cols == NR) KernelF32.tile(k, buf, s * MR * k, panels, bi, c, c0, rowBytes, false);
                    else KernelF32.edge(k, buf, s * MR * k, panels, bi, c, c0, rowBytes, false, rows, cols, w.edge);
                }
            }
        } finally {
            Workspace.releaseWorker(w);
        }
    }

    /** Scratch for packing one strip of A (row-major A is copied row by row, then interleaved). */
    private static final ThreadLocal<float[]> TMP = ThreadLocal.withInitial(() -> new float[0]);
}
