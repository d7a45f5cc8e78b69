package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;

/**
 * Batched matrix products on the CPU: {@code c[i] = a[i] @ b[i]} for {@code i} in {@code [0, batch)},
 * with {@code a[i]} of {@code m x k}, {@code b[i]} of {@code k x n} and {@code c[i]} of {@code m x n}.
 *
 * <p>Operands are little-endian native memory addressed by element offsets and element strides
 * (batch, row, column), so transposed or broadcast views (stride 0, batch stride 0 included) need no
 * copy; C's columns are contiguous. C is written, never accumulated into, and must not overlap A or
 * B. {@code k = 0} writes zeros; {@code batch}, {@code m} or {@code n} of 0 does nothing.
 *
 * <p>Large products are cache-blocked with packed panels and a Vector API FMA micro-kernel, run on
 * the calling thread plus workers of {@code pool} ({@code null} runs on the calling thread only;
 * {@link ForkJoinPool#commonPool()} counts the caller as one extra thread; segments of a confined
 * arena, which other threads may not touch, also run on the calling thread). The result bits do not
 * depend on the pool: every output element is a chain of fused multiply-adds over k in increasing
 * order, whatever the thread count.
 */
public final class CpuMatmul {

    /** Products with {@code m*n*k} below this take the unpacked single-thread path. */
    static final long SMALL_WORK = 32L * 32 * 32;
    /** Batched products with {@code m*n*k} below this run one batch entry per thread instead. */
    static final long BATCH_PARALLEL_WORK = 128L * 128 * 128;

    /** Never started: a thread that only shared segments are accessible by. */
    private static final Thread OTHER = Thread.ofPlatform().unstarted(() -> {});

    private CpuMatmul() {}

    /** The pool to use, or null when a segment is confined to the calling thread. */
    private static ForkJoinPool usable(ForkJoinPool pool, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (pool == null) return null;
        return a.isAccessibleBy(OTHER) && b.isAccessibleBy(OTHER) && c.isAccessibleBy(OTHER) ? pool : null;
    }

    /** Float32 product; see the class comment. Offsets and strides are in elements. */
    public static void gemmF32(int batch, int m, int n, int k,
                               MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                               MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                               MemorySegment c, long cOff, long cBatchStride, long cRowStride, ForkJoinPool pool) {
        check(4, batch, m, n, k, a, aOff, aBatchStride, aRowStride, aColStride,
              b, bOff, bBatchStride, bRowStride, bColStride, c, cOff, cBatchStride, cRowStride);
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0) { zero(4, batch, m, n, c, cOff, cBatchStride, cRowStride); return; }
        long work = (long) m * n * k;
        Entry entry = (i, p) -> {
            long ao = aOff + i * aBatchStride, bo = bOff + i * bBatchStride, co = cOff + i * cBatchStride;
            if (work < SMALL_WORK) SmallGemm.f32(m, n, k, a, ao, aRowStride, aColStride, b, bo, bRowStride, bColStride, c, co, cRowStride);
            else if (NarrowF32.applies(n, aRowStride, aColStride))
                NarrowF32.gemm(p, m, n, k, a, ao, aColStride, b, bo, bRowStride, bColStride, c, co, cRowStride);
            else BlockedF32.gemm(p, m, n, k, a, ao, aRowStride, aColStride, b, bo, bRowStride, bColStride, c, co, cRowStride);
        };
        run(batch, work, usable(pool, a, b, c), entry);
    }

    /** Float64 product; see the class comment. Offsets and strides are in elements. */
    public static void gemmF64(int batch, int m, int n, int k,
                               MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                               MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                               MemorySegment c, long cOff, long cBatchStride, long cRowStride, ForkJoinPool pool) {
        check(8, batch, m, n, k, a, aOff, aBatchStride, aRowStride, aColStride,
              b, bOff, bBatchStride, bRowStride, bColStride, c, cOff, cBatchStride, cRowStride);
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0) { zero(8, batch, m, n, c, cOff, cBatchStride, cRowStride); return; }
        long work = (long) m * n * k;
        Entry entry = (i, p) -> {
            long ao = aOff + i * aBatchStride, bo = bOff + i * bBatchStride, co = cOff + i * cBatchStride;
            if (work < SMALL_WORK) SmallGemm.f64(m, n, k, a, ao, aRowStride, aColStride, b, bo, bRowStride, bColStride, c, co, cRowStride);
            else BlockedF64.gemm(p, m, n, k, a, ao, aRowStride, aColStride, b, bo, bRowStride, bColStride, c, co, cRowStride);
        };
        run(batch, work, usable(pool, a, b, c), entry);
    }

    /** One batch entry, run with the pool it may use (null: the current thread alone). */
    private interface Entry { void run(long index, ForkJoinPool pool); }

    private static void run(int batch, long work, ForkJoinPool pool, Entry entry) {
        if (batch > 1 && work < BATCH_PARALLEL_WORK) {
            // Many small products: spread whole entries over threads, each entry single-threaded.
            int items = Math.min(batch, 8 * Parallel.threads(pool));
            Parallel.forEach(pool, items, it -> {
                for (long i = (long) it * batch / items, e = (long) (it + 1) * batch / items; i < e; i++) entry.run(i, null);
            });
        } else {
            for (long i = 0; i < batch; i++) entry.run(i, work < SMALL_WORK ? null : pool);
        }
    }

    private static void zero(int bytes, int batch, int m, int n, MemorySegment c, long cOff, long cBatchStride, long cRowStride) {
        for (long i = 0; i < batch; i++)
            for (long r = 0; r < m; r++) c.asSlice(bytes * (cOff + i * cBatchStride + r * cRowStride), (long) bytes * n).fill((byte) 0);
    }

    private static void check(int bytes, int batch, int m, int n, int k,
                              MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                              MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                              MemorySegment c, long cOff, long cBatchStride, long cRowStride) {
        if (batch < 0 || m < 0 || n < 0 || k < 0)
            throw new IllegalArgumentException("matmul sizes must be >= 0, got batch=" + batch + " m=" + m + " n=" + n + " k=" + k);
        if (a == null || b == null || c == null)
            throw new NullPointerException("matmul operands must be non-null segments (a=" + a + ", b=" + b + ", c=" + c + ")");
        if (batch == 0 || m == 0 || n == 0) return;
        if (batch > 1 && cBatchStride == 0)
            throw new IllegalArgumentException("c's batch stride is 0 with batch=" + batch + ": every entry would overwrite the same output; give c a batch stride of at least m*n");
        if (cRowStride < n && m > 1)
            throw new IllegalArgumentException("c's row stride " + cRowStride + " is below n=" + n + ": rows of the output would overlap");
        if (k > 0) {
            within("a", bytes, a, aOff, new long[]{batch, m, k}, new long[]{aBatchStride, aRowStride, aColStride});
            within("b", bytes, b, bOff, new long[]{batch, k, n}, new long[]{bBatchStride, bRowStride, bColStride});
        }
        within("c", bytes, c, cOff, new long[]{batch, m, n}, new long[]{cBatchStride, cRowStride, 1});
    }

    /** Fails unless every element the view addresses lies inside the segment. */
    private static void within(String name, int bytes, MemorySegment s, long off, long[] dims, long[] strides) {
        long lo = off, hi = off;
        for (int d = 0; d < dims.length; d++) {
            long span = Math.multiplyExact(strides[d], dims[d] - 1);
            if (span < 0) lo = Math.addExact(lo, span); else hi = Math.addExact(hi, span);
        }
        long capacity = s.byteSize() / bytes;
        if (lo < 0 || hi >= capacity)
            throw new IndexOutOfBoundsException(name + " addresses elements " + lo + ".." + hi + " (offset " + off
                + ", sizes " + java.util.Arrays.toString(dims) + ", strides " + java.util.Arrays.toString(strides)
                + ") but its segment holds " + capacity + " elements of " + bytes + " bytes");
    }
}
