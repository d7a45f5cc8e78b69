package dev.ballast.cpu.matmul;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/**
 * The narrow path ({@link NarrowF32}: column-major A, at most {@link NarrowF32#MAX_N} columns of B, e.g. a weight
 * gradient {@code dPre^T x}) on random operands of odd sizes: against a float64 reference, bit for bit against the
 * blocked path on the same operands, and bit for bit across 1, 2 and 3 threads.
 */
class NarrowF32Test {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static MemorySegment random(Arena arena, long elements, SplittableRandom rnd) {
        MemorySegment s = arena.allocate(4 * elements, 64);
        for (long e = 0; e < elements; e++) s.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
        return s;
    }

    @Test void matchesReferenceBlockedPathAndEveryThreadCount() {
        long seed = System.nanoTime();
        System.out.println("NarrowF32Test seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        // m: below one vector, odd, a kernel pass plus a ragged tail, several items; n: 1..MAX_N; k: odd and long
        int[][] shapes = {{512, 2, 3200}, {5, 7, 4001}, {300, 5, 1000}, {65, 1, 999}, {127, 8, 257}, {1000, 3, 300},
                          {64, 4, 129}, {333, 6, 77}};
        ForkJoinPool pool2 = new ForkJoinPool(2), pool3 = new ForkJoinPool(3);
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                // A: a transposed view of a [k x lda] row-major matrix (unit row stride, column stride lda >= m),
                // B: every other column of a row-major matrix (general strides), C: padded rows.
                long aOff = 3, lda = m + (k % 3), bOff = 5, brs = 2L * n + 1, bcs = 2, cOff = 7, crs = n + 2;
                assertTrue(NarrowF32.applies(n, 1, lda), "shape " + m + "x" + n + " must take the narrow path");
                MemorySegment a = random(arena, aOff + k * lda, rnd), b = random(arena, bOff + k * brs, rnd);
                MemorySegment blocked = random(arena, cOff + m * crs, rnd);
                MemorySegment first = null;
                for (ForkJoinPool pool : new ForkJoinPool[]{null, pool2, pool3}) {
                    MemorySegment c = arena.allocate(blocked.byteSize(), 64);
                    c.copyFrom(blocked); // same padding bytes, so whole segments compare
                    CpuMatmul.gemmF32(1, m, n, k, a, aOff, 0, 1, lda, b, bOff, 0, brs, bcs, c, cOff, 0, crs, pool);
                    if (first == null) first = c;
                    else assertEquals(-1, first.mismatch(c), "bits differ with " + pool + " for " + m + "x" + n + "x" + k);
                }
                BlockedF32.gemm(pool2, m, n, k, a, aOff, 1, lda, b, bOff, brs, bcs, blocked, cOff, crs);
                assertEquals(-1, first.mismatch(blocked), "narrow and blocked bits differ for " + m + "x" + n + "x" + k);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double want = 0, scale = 0;
                        for (int p = 0; p < k; p++) {
                            double t = (double) a.get(F, 4 * (aOff + i + p * lda)) * b.get(F, 4 * (bOff + p * brs + j * bcs));
                            want += t;
                            scale += Math.abs(t);
                        }
                        double got = first.get(F, 4 * (cOff + i * crs + j));
                        assertTrue(Math.abs(got - want) <= 1e-5 * Math.sqrt(k) * scale,
                                   "[" + i + "," + j + "] of " + m + "x" + n + "x" + k + ": got " + got + ", expected " + want);
                    }
            }
        } finally {
            pool2.shutdown();
            pool3.shutdown();
        }
    }

    @Test void nanInAReachesOnlyItsRow() {
        try (Arena arena = Arena.ofShared()) {
            int m = 70, n = 3, k = 600; // row 69 lies in the masked tail
            MemorySegment a = random(arena, (long) m * k, new SplittableRandom(1)), b = random(arena, (long) k * n, new SplittableRandom(2));
            a.set(F, 4 * (69 + 17L * m), Float.NaN);
            MemorySegment c = arena.allocate(4L * m * n);
            CpuMatmul.gemmF32(1, m, n, k, a, 0, 0, 1, m, b, 0, 0, n, 1, c, 0, 0, n, null);
            for (int j = 0; j < n; j++) assertTrue(Float.isNaN(c.get(F, 4 * (69L * n + j))), "row 69 must be NaN");
            for (int j = 0; j < n; j++) assertFalse(Float.isNaN(c.get(F, 4 * (68L * n + j))), "row 68 must not");
        }
    }
}
