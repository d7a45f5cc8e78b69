package dev.ballast.cpu.matmul;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Checks {@link CpuMatmul} against a float64 reference on random inputs, views and edge sizes. */
class CpuMatmulTest {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static ForkJoinPool pool2;
    private static ForkJoinPool pool7;
    private final SplittableRandom rnd = new SplittableRandom(20240917);

    @BeforeAll static void pools() { pool2 = new ForkJoinPool(2); pool7 = new ForkJoinPool(7); }

    @AfterAll static void shutdown() { pool2.shutdown(); pool7.shutdown(); }

    /** A strided batch of matrices inside a segment whose every element (inside the view or not) is random. */
    private record View(MemorySegment seg, int bytes, long off, long bs, long rs, long cs) {
        double get(long b, long i, long j) {
            long e = off + b * bs + i * rs + j * cs;
            return bytes == 4 ? seg.get(F, 4 * e) : seg.get(D, 8 * e);
        }
    }

    private View random(Arena arena, int bytes, long elements, long off, long bs, long rs, long cs) {
        MemorySegment seg = arena.allocate(bytes * elements, 64);
        for (long e = 0; e < elements; e++) {
            double v = rnd.nextDouble(-1, 1);
            if (bytes == 4) seg.set(F, 4 * e, (float) v); else seg.set(D, 8 * e, v);
        }
        return new View(seg, bytes, off, bs, rs, cs);
    }

    /** Row-major batch, starting at a non-aligned element offset. */
    private View rowMajor(Arena arena, int bytes, int batch, int rows, int cols) {
        long off = 3;
        return random(arena, bytes, off + (long) batch * rows * cols, off, (long) rows * cols, cols, 1);
    }

    /** Column-major batch (a transposed view). */
    private View colMajor(Arena arena, int bytes, int batch, int rows, int cols) {
        long off = 5;
        return random(arena, bytes, off + (long) batch * rows * cols, off, (long) rows * cols, 1, rows);
    }

    private static void gemm(int batch, int m, int n, int k, View a, View b, View c, ForkJoinPool pool) {
        if (a.bytes == 4)
            CpuMatmul.gemmF32(batch, m, n, k, a.seg, a.off, a.bs, a.rs, a.cs, b.seg, b.off, b.bs, b.rs, b.cs,
                              c.seg, c.off, c.bs, c.rs, pool);
        else
            CpuMatmul.gemmF64(batch, m, n, k, a.seg, a.off, a.bs, a.rs, a.cs, b.seg, b.off, b.bs, b.rs, b.cs,
                              c.seg, c.off, c.bs, c.rs, pool);
    }

    /** Runs the product and compares every element with a float64 reference, relative to sum |a*b|. */
    private void checkProduct(int batch, int m, int n, int k, View a, View b, Arena arena, ForkJoinPool pool) {
        int bytes = a.bytes;
        long cOff = 7, cRow = n + 2; // padded rows: the gaps must stay untouched
        View c = random(arena, bytes, cOff + (long) batch * m * cRow, cOff, (long) m * cRow, cRow, 1);
        MemorySegment before = arena.allocate(c.seg.byteSize());
        before.copyFrom(c.seg);
        gemm(batch, m, n, k, a, b, c, pool);
        double tol = (bytes == 4 ? 1e-5 : 1e-13) * Math.sqrt(Math.max(k, 1));
        double[] row = new double[n], scale = new double[n];
        for (int bi = 0; bi < batch; bi++) {
            for (int i = 0; i < m; i++) {
                java.util.Arrays.fill(row, 0);
                java.util.Arrays.fill(scale, 0);
                for (int p = 0; p < k; p++) {
                    double x = a.get(bi, i, p);
                    for (int j = 0; j < n; j++) {
                        double t = x * b.get(bi, p, j);
                        row[j] += t;
                        scale[j] += Math.abs(t);
                    }
                }
                for (int j = 0; j < n; j++) {
                    double got = c.get(bi, i, j);
                    double err = Math.abs(got - row[j]);
                    if (!(err <= tol * scale[j] + 1e-30)) // NaN fails too
                        fail("batch " + bi + " [" + i + "," + j + "] of " + m + "x" + n + "x" + k + ": got " + got
                             + ", expected " + row[j] + " (error " + err + ", allowed " + tol * scale[j] + ")");
                }
                for (long j = n; j < cRow; j++) {
                    long e = cOff + bi * c.bs + i * cRow + j;
                    assertEquals(before.get(ValueLayout.JAVA_BYTE, e * bytes), c.seg.get(ValueLayout.JAVA_BYTE, e * bytes),
                                 "padding after row " + i + " was written");
                }
            }
        }
    }

    private static final int[][] SIZES = {
        {1, 1, 1}, {7, 7, 7}, {1, 33, 65}, {33, 1, 65}, {65, 33, 1}, {33, 65, 17}, {65, 130, 257},
        {130, 257, 65}, {257, 33, 300}, {1, 1000, 300}, {300, 1, 200}, {97, 101, 513}, {6, 32, 256}, {12, 64, 512},
    };

    @Test void f32RowMajorOddSizes() {
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : SIZES)
                checkProduct(1, s[0], s[1], s[2], rowMajor(arena, 4, 1, s[0], s[2]), rowMajor(arena, 4, 1, s[2], s[1]), arena, pool2);
        }
    }

    @Test void f64RowMajorOddSizes() {
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : SIZES)
                checkProduct(1, s[0], s[1], s[2], rowMajor(arena, 8, 1, s[0], s[2]), rowMajor(arena, 8, 1, s[2], s[1]), arena, pool2);
        }
    }

    @Test void transposedViews() {
        try (Arena arena = Arena.ofShared()) {
            for (int bytes : new int[]{4, 8}) {
                for (int[] s : new int[][]{{65, 130, 257}, {257, 33, 300}, {5, 9, 3}, {70, 70, 70}}) {
                    int m = s[0], n = s[1], k = s[2];
                    checkProduct(1, m, n, k, colMajor(arena, bytes, 1, m, k), rowMajor(arena, bytes, 1, k, n), arena, pool2);
                    checkProduct(1, m, n, k, rowMajor(arena, bytes, 1, m, k), colMajor(arena, bytes, 1, k, n), arena, pool2);
                    checkProduct(1, m, n, k, colMajor(arena, bytes, 1, m, k), colMajor(arena, bytes, 1, k, n), arena, null);
                    // General strides: every third column of A's rows, every other row of B, odd offsets.
                    View a = random(arena, bytes, 11 + (long) m * (3L * k + 1) + 5, 11, 0, 3L * k + 1, 3);
                    View b = random(arena, bytes, 13 + (long) k * 2 * (n + 1), 13, 0, 2L * (n + 1), 1);
                    checkProduct(1, m, n, k, a, b, arena, pool7);
                }
            }
        }
    }

    @Test void batchedWithBroadcastOperand() {
        try (Arena arena = Arena.ofShared()) {
            for (int bytes : new int[]{4, 8}) {
                // Small entries (one per thread) and large entries (threads inside each entry).
                for (int[] s : new int[][]{{4, 20, 30, 40}, {3, 70, 130, 300}, {5, 9, 7, 5}}) {
                    int batch = s[0], m = s[1], n = s[2], k = s[3];
                    View a = rowMajor(arena, bytes, batch, m, k);
                    View b = rowMajor(arena, bytes, 1, k, n);
                    View bShared = new View(b.seg, bytes, b.off, 0, b.rs, b.cs);
                    checkProduct(batch, m, n, k, a, bShared, arena, pool2);
                    View a1 = rowMajor(arena, bytes, 1, m, k);
                    View aShared = new View(a1.seg, bytes, a1.off, 0, a1.rs, a1.cs);
                    checkProduct(batch, m, n, k, aShared, colMajor(arena, bytes, batch, k, n), arena, pool7);
                }
            }
        }
    }

    @Test void chunkedWhenPackedOperandsExceedTheBound() {
        // k large enough that A and B are packed in several row / column chunks.
        try (Arena arena = Arena.ofShared()) {
            int m = 40, n = 50, k = 110_000;
            checkProduct(1, m, n, k, rowMajor(arena, 4, 1, m, k), rowMajor(arena, 4, 1, k, n), arena, pool2);
            // a transposed A in row chunks (a weight gradient dY^T X over many rows): strips packed column by column
            checkProduct(1, m, n, k, colMajor(arena, 4, 1, m, k), rowMajor(arena, 4, 1, k, n), arena, pool2);
            checkProduct(1, m, n, k / 2, rowMajor(arena, 8, 1, m, k / 2), colMajor(arena, 8, 1, k / 2, n), arena, pool2);
        }
    }

    @Test void kZeroWritesZerosAndEmptyOutputsAreLeftAlone() {
        try (Arena arena = Arena.ofShared()) {
            for (int bytes : new int[]{4, 8}) {
                View a = rowMajor(arena, bytes, 2, 5, 1), b = rowMajor(arena, bytes, 2, 1, 6);
                View c = rowMajor(arena, bytes, 2, 5, 6);
                gemm(2, 5, 6, 0, a, b, c, pool2);
                for (int bi = 0; bi < 2; bi++)
                    for (int i = 0; i < 5; i++)
                        for (int j = 0; j < 6; j++) assertEquals(0.0, c.get(bi, i, j), "k = 0 must give zeros");
                View c2 = rowMajor(arena, bytes, 1, 5, 6);
                MemorySegment before = arena.allocate(c2.seg.byteSize());
                before.copyFrom(c2.seg);
                gemm(1, 0, 6, 3, a, b, c2, pool2);
                gemm(1, 5, 0, 3, a, b, c2, pool2);
                gemm(0, 5, 6, 3, a, b, c2, pool2);
                assertEquals(-1, before.mismatch(c2.seg), "m, n or batch = 0 must not write");
            }
        }
    }

    @Test void resultBitsDoNotDependOnThreadCount() {
        try (Arena arena = Arena.ofShared()) {
            for (int bytes : new int[]{4, 8}) {
                for (int[] s : new int[][]{{1, 257, 300, 513}, {3, 70, 90, 100}, {1, 1000, 64, 600}}) {
                    int batch = s[0], m = s[1], n = s[2], k = s[3];
                    View a = rowMajor(arena, bytes, batch, m, k), b = colMajor(arena, bytes, batch, k, n);
                    MemorySegment first = null;
                    ForkJoinPool pool1 = new ForkJoinPool(1);
                    try {
                        for (ForkJoinPool p : new ForkJoinPool[]{pool1, pool2, pool7, null, ForkJoinPool.commonPool()}) {
                            View c = rowMajor(arena, bytes, batch, m, n);
                            gemm(batch, m, n, k, a, b, c, p);
                            MemorySegment out = c.seg.asSlice(c.off * bytes); // skip the random elements before the view
                            if (first == null) first = out;
                            else assertEquals(-1, first.mismatch(out), "bits differ with pool " + p);
                        }
                    } finally {
                        pool1.shutdown();
                    }
                }
            }
        }
    }

    @Test void itemsPackingTheirOwnBMatchTheSharedPacking() {
        // m = 200 is two row groups (B packed once for both in phase 0); its first 128 rows alone are one row group,
        // whose items pack B themselves per k block. Same fma chains: the rows must be bit-equal.
        try (Arena arena = Arena.ofShared()) {
            for (boolean transposedA : new boolean[]{false, true}) {
                int m = 200, n = 300, k = 700, top = BlockedF32.STRIPS_PER_ITEM * KernelF32.MR;
                View a = transposedA ? colMajor(arena, 4, 1, m, k) : rowMajor(arena, 4, 1, m, k);
                View b = rowMajor(arena, 4, 1, k, n);
                View whole = rowMajor(arena, 4, 1, m, n), part = rowMajor(arena, 4, 1, top, n);
                gemm(1, m, n, k, a, b, whole, pool2);
                gemm(1, top, n, k, a, b, part, pool7);
                for (int i = 0; i < top; i++)
                    for (int j = 0; j < n; j++)
                        assertEquals(Float.floatToRawIntBits((float) whole.get(0, i, j)), Float.floatToRawIntBits((float) part.get(0, i, j)),
                                     "[" + i + "," + j + "] transposedA=" + transposedA);
            }
        }
    }

    @Test void confinedSegmentsRunOnTheCallingThread() {
        try (Arena arena = Arena.ofConfined()) {
            checkProduct(1, 100, 90, 80, rowMajor(arena, 4, 1, 100, 80), rowMajor(arena, 4, 1, 80, 90), arena, pool7);
        }
    }

    @Test void nonFiniteInputsPropagate() {
        try (Arena arena = Arena.ofShared()) {
            View a = rowMajor(arena, 4, 1, 64, 64), b = rowMajor(arena, 4, 1, 64, 64), c = rowMajor(arena, 4, 1, 64, 64);
            a.seg.set(F, 4 * (a.off + 10 * 64 + 3), Float.NaN);
            gemm(1, 64, 64, 64, a, b, c, pool2);
            for (int j = 0; j < 64; j++) assertTrue(Float.isNaN((float) c.get(0, 10, j)), "NaN in row 10 of A must reach row 10 of C");
            assertFalse(Float.isNaN((float) c.get(0, 11, 0)), "NaN must stay in its row");
        }
    }

    @Test void badArgumentsAreRejectedWithReasons() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(4 * 100);
            var e = assertThrows(IndexOutOfBoundsException.class,
                () -> CpuMatmul.gemmF32(1, 10, 10, 10, s, 0, 0, 10, 1, s, 0, 0, 10, 1, s, 50, 0, 10, null));
            assertTrue(e.getMessage().startsWith("c addresses elements 50..149"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class,
                () -> CpuMatmul.gemmF32(1, -1, 10, 10, s, 0, 0, 10, 1, s, 0, 0, 10, 1, s, 0, 0, 10, null));
            assertTrue(e2.getMessage().contains("m=-1"), e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class,
                () -> CpuMatmul.gemmF64(2, 2, 2, 2, s, 0, 4, 2, 1, s, 0, 4, 2, 1, s, 0, 0, 2, null));
            assertTrue(e3.getMessage().contains("batch stride is 0"), e3.getMessage());
        }
    }
}
