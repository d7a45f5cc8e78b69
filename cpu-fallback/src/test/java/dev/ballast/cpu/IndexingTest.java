package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Strided;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IndexingTest {
    private final Random rnd = new Random(4242);

    private long[] indices(int count, int n) {
        long[] idx = new long[count];
        for (int i = 0; i < count; i++) idx[i] = rnd.nextInt(n);
        return idx;
    }

    @Test
    void indexSelectAndIndexAdd() {
        int outer = 3, n = 50, inner = 37, m = 80;   // m > n: indices repeat
        for (DType t : new DType[] {DType.F32, DType.F64, DType.I32, DType.I64, DType.BF16}) {
            double[] x = representable(t, t.isFloating() ? uniform(rnd, outer * n * inner, -4, 4) : ints(outer * n * inner));
            long[] idx = indices(m, n);
            Strided xs = tensor(t, x, outer, n, inner), index = longs(DType.I64, idx, m), out = empty(t, outer, m, inner);
            CPU.indexSelect(xs, outer, n, inner, index, out);
            double[] got = read(out);
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    for (int i = 0; i < inner; i++)
                        assertEquals(x[(o * n + (int) idx[j]) * inner + i], got[(o * m + j) * inner + i], 0.0, t + " select");
            if (t == DType.BF16) continue;
            // the adjoint, accumulating into a non-zero destination
            double[] src = representable(t, t.isFloating() ? uniform(rnd, outer * m * inner, -4, 4) : ints(outer * m * inner));
            double[] base = representable(t, t.isFloating() ? uniform(rnd, outer * n * inner, -4, 4) : ints(outer * n * inner));
            Strided dst = tensor(t, base, outer, n, inner);
            CPU.indexAdd(tensor(t, src, outer, m, inner), outer, m, inner, index, dst, n);
            double[] ref = base.clone();
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    for (int i = 0; i < inner; i++) {
                        int k = (o * n + (int) idx[j]) * inner + i;
                        ref[k] = t == DType.F32 ? (float) (ref[k] + src[(o * m + j) * inner + i]) : ref[k] + src[(o * m + j) * inner + i];
                    }
            assertArrayEquals(ref, read(dst), 0.0, t + " indexAdd, in index order");
        }
    }

    @Test
    void gatherAndScatterAdd() {
        int outer = 4, n = 30, inner = 9, m = 45;
        for (DType t : new DType[] {DType.F32, DType.F64, DType.I64}) {
            double[] x = representable(t, t.isFloating() ? uniform(rnd, outer * n * inner, -4, 4) : ints(outer * n * inner));
            long[] idx = indices(outer * m * inner, n);
            Strided index = longs(DType.I64, idx, outer, m, inner), out = empty(t, outer, m, inner);
            CPU.gather(tensor(t, x, outer, n, inner), outer, n, inner, index, m, out);
            double[] got = read(out);
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    for (int i = 0; i < inner; i++) {
                        int p = (o * m + j) * inner + i;
                        assertEquals(x[(o * n + (int) idx[p]) * inner + i], got[p], 0.0, t + " gather");
                    }
            double[] src = representable(t, t.isFloating() ? uniform(rnd, outer * m * inner, -4, 4) : ints(outer * m * inner));
            double[] base = representable(t, t.isFloating() ? uniform(rnd, outer * n * inner, -4, 4) : ints(outer * n * inner));
            Strided dst = tensor(t, base, outer, n, inner);
            CPU.scatterAdd(tensor(t, src, outer, m, inner), outer, m, inner, index, dst, n);
            double[] ref = base.clone();
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < m; j++)
                    for (int i = 0; i < inner; i++) {
                        int p = (o * m + j) * inner + i, k = (o * n + (int) idx[p]) * inner + i;
                        ref[k] = t == DType.F32 ? (float) (ref[k] + src[p]) : ref[k] + src[p];
                    }
            assertArrayEquals(ref, read(dst), 0.0, t + " scatterAdd, in index order");
        }
    }

    @Test
    void outOfRangeIndicesAreRejectedBeforeWriting() {
        Strided x = tensor(DType.F32, uniform(rnd, 2 * 5 * 3, -1, 1), 2, 5, 3);
        Strided out = empty(DType.F32, 2, 2, 3);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> CPU.indexSelect(x, 2, 5, 3, longs(DType.I64, new long[] {1, 5}, 2), out));
        assertTrue(e.getMessage().contains("index 5") && e.getMessage().contains("[0, 5)"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> CPU.indexSelect(x, 2, 5, 3, longs(DType.I64, new long[] {-1, 0}, 2), out));
        assertTrue(e.getMessage().contains("index -1"), e.getMessage());

        double[] before = {1, 2, 3, 4, 5, 6};
        Strided dst = tensor(DType.F32, before, 1, 2, 3);
        Strided src = tensor(DType.F32, new double[] {1, 1, 1, 1, 1, 1}, 1, 2, 3);
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> CPU.scatterAdd(src, 1, 2, 3, longs(DType.I64, new long[] {0, 1, 0, 1, 2, 0}, 1, 2, 3), dst, 2));
        assertTrue(e.getMessage().contains("index 2") && e.getMessage().contains("[0, 2)"), e.getMessage());
        assertArrayEquals(before, read(dst), 0.0, "nothing written when an index is bad");
        assertThrows(IndexOutOfBoundsException.class,
                () -> CPU.indexAdd(src, 1, 2, 3, longs(DType.I64, new long[] {0, 7}, 2), dst, 2));
        assertThrows(IndexOutOfBoundsException.class,
                () -> CPU.gather(x, 2, 5, 3, longs(DType.I64, new long[] {0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0}, 2, 2, 3), 2, out));
        assertArrayEquals(before, read(dst), 0.0);
    }

    @Test
    void indexAddIsDeterministicAcrossThreadCounts() {
        int outer = 2, m = 20_000, inner = 16, n = 7;
        double[] src = uniform(rnd, outer * m * inner, -1, 1);
        long[] idx = indices(m, n);
        double[][] res = new double[3][];
        int k = 0;
        for (int threads : new int[] {1, 2, 7}) {
            CpuBackend be = new CpuBackend(threads);
            Strided dst = empty(be, DType.F32, outer, n, inner);
            be.fill(dst, 0);
            Strided index = Strided.contiguous(be.allocate(8L * m), DType.I64, 0, m);
            for (int i = 0; i < m; i++) seg(index).setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, idx[i]);
            be.indexAdd(tensor(be, DType.F32, src, outer, m, inner), outer, m, inner, index, dst, n);
            res[k++] = read(dst);
            be.pool().shutdown();
        }
        assertArrayEquals(res[0], res[1], 0.0);
        assertArrayEquals(res[0], res[2], 0.0);
    }

    private double[] ints(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextInt(2001) - 1000;
        return v;
    }
}
