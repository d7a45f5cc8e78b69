package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The path for small products (m*n*k below {@link CpuMatmul#SMALL_WORK}), where packing and
 * threads cost more than they save: B is copied into a dense array, then each row of C is built
 * as a sequence of fused multiply-adds over k in increasing order. Requires m, n, k > 0 and
 * {@code k * n} small enough to fit an array.
 */
final class SmallGemm {

    private static final ValueLayout.OfFloat F = PackF32.F;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SmallGemm() {}

    static void f32(int m, int n, int k,
                    MemorySegment a, long aOff, long ars, long acs,
                    MemorySegment b, long bOff, long brs, long bcs,
                    MemorySegment c, long cOff, long crs) {
        float[] bd = new float[k * n];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) bd[p * n + j] = b.get(F, 4 * (bOff + p * brs + j * bcs));
        float[] acc = new float[n];
        for (int i = 0; i < m; i++) {
            java.util.Arrays.fill(acc, 0f);
            long ai = aOff + i * ars;
            for (int p = 0; p < k; p++) {
                float x = a.get(F, 4 * (ai + p * acs));
                int o = p * n;
                for (int j = 0; j < n; j++) acc[j] = Math.fma(x, bd[o + j], acc[j]);
            }
            MemorySegment.copy(acc, 0, c, F, 4 * (cOff + i * crs), n);
        }
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
