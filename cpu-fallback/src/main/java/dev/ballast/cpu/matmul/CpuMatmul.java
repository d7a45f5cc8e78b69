package dev.ballast.cpu.matmul;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * TEMPORARY PLACEHOLDER, to be replaced by the real blocked/vectorized kernel from the matmul branch
 * (that branch's file wins at merge). Batched {@code c[b] = a[b] @ b[b]} with element offsets and strides;
 * naive, correct and deterministic: each output element is a dot product accumulated in double in k order.
 */
public final class CpuMatmul {
    private CpuMatmul() {}

    /** F32 batched product; offsets and strides are in elements. */
    public static void gemmF32(int batch, int m, int n, int k,
                               MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                               MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                               MemorySegment c, long cOff, long cBatchStride, long cRowStride, ForkJoinPool pool) {
        run(batch * m, pool, br -> {
            int bi = br / m, i = br % m;
            long ar = aOff + bi * aBatchStride + i * aRowStride, bb = bOff + bi * bBatchStride;
            long cr = cOff + bi * cBatchStride + i * cRowStride;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double) a.getAtIndex(JAVA_FLOAT, ar + p * aColStride) * b.getAtIndex(JAVA_FLOAT, bb + p * bRowStride + j * bColStride);
                c.setAtIndex(JAVA_FLOAT, cr + j, (float) s);
            }
        });
    }

    /** F64 batched product; offsets and strides are in elements. */
    public static void gemmF64(int batch, int m, int n, int k,
                               MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                               MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                               MemorySegment c, long cOff, long cBatchStride, long cRowStride, ForkJoinPool pool) {
        run(batch * m, pool, br -> {
            int bi = br / m, i = br % m;
            long ar = aOff + bi * aBatchStride + i * aRowStride, bb = bOff + bi * bBatchStride;
            long cr = cOff + bi * cBatchStride + i * cRowStride;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += a.getAtIndex(JAVA_DOUBLE, ar + p * aColStride) * b.getAtIndex(JAVA_DOUBLE, bb + p * bRowStride + j * bColStride);
                c.setAtIndex(JAVA_DOUBLE, cr + j, s);
            }
        });
    }

    private static void run(int rows, ForkJoinPool pool, java.util.function.IntConsumer row) {
        if (rows <= 0) return;
        pool.submit(() -> IntStream.range(0, rows).parallel().forEach(row)).join();
    }
}
