package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Strided;
import java.math.BigDecimal;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReduceTest {
    private final Random rnd = new Random(31337);

    /** The float64 (exact, for SUM) reference, and in {@code absSums} the sums of magnitudes that bound rounding error. */
    private static double[] reference(ReduceOp op, double[] x, int outer, int n, int inner, double[] absSums) {
        double[] r = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++) {
                double best = x[o * n * inner + i];
                int bi = 0;
                BigDecimal sum = BigDecimal.ZERO;
                double abs = 0;
                for (int j = 0; j < n; j++) {
                    double v = x[(o * n + j) * inner + i];
                    if (op == ReduceOp.SUM) { sum = sum.add(new BigDecimal(v)); abs += Math.abs(v); }
                    boolean nanNew = Double.isNaN(v) && !Double.isNaN(best);
                    boolean better = !Double.isNaN(best) && (nanNew || (op == ReduceOp.MAX || op == ReduceOp.ARGMAX ? v > best : v < best));
                    if (better) { best = v; bi = j; }
                }
                absSums[o * inner + i] = abs;
                r[o * inner + i] = switch (op) {
                    case SUM -> sum.doubleValue();
                    case MAX, MIN -> best;
                    case ARGMAX, ARGMIN -> bi;
                };
            }
        return r;
    }

    private void check(DType t, ReduceOp op, int outer, int n, int inner) {
        double[] x = representable(t, t.isFloating() ? uniform(rnd, outer * n * inner, -10, 10) : ints(outer * n * inner));
        if (op != ReduceOp.SUM && t.isFloating() && x.length > 3) x[x.length / 2] = x[x.length / 3];   // a tie
        Strided in = tensor(t, x, outer, n, inner);
        DType od = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN ? DType.I64 : t;
        Strided out = empty(od, (long) outer * inner);
        CPU.reduce(op, in, outer, n, inner, out);
        double[] abs = new double[outer * inner];
        double[] got = read(out), ref = reference(op, x, outer, n, inner, abs);
        for (int k = 0; k < ref.length; k++) {
            String where = t + " " + op + " [" + outer + "," + n + "," + inner + "] at " + k;
            // F32: rows accumulate in double (the correctly rounded sum, give or take an ulp); columns in float runs of 64 rows
            if (op == ReduceOp.SUM && t == DType.F32)
                assertEquals(ref[k], got[k], Math.ulp((float) ref[k]) + (inner == 1 ? 0 : 1e-6 * abs[k]), where);
            else if (op == ReduceOp.SUM && t == DType.F64) assertEquals(ref[k], got[k], 1e-12 * Math.max(1, Math.abs(ref[k])), where);
            else assertEquals(t == DType.I32 && op == ReduceOp.SUM ? (int) ref[k] : ref[k], got[k], 0.0, where);
        }
    }

    private double[] ints(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextInt(20001) - 10000;
        return v;
    }

    @Test
    void allOpsAllDtypesAllLayouts() {
        int[][] shapes = {{1, 10_000, 1}, {3, 5000, 1}, {1, 1, 1}, {7, 33, 1}, {1, 70, 5}, {4, 301, 300}, {2, 9000, 3}, {1000, 4, 2}};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.I32, DType.I64})
            for (ReduceOp op : ReduceOp.values())
                for (int[] s : shapes) check(t, op, s[0], s[1], s[2]);
    }

    @Test
    void nanHandling() {
        double[] x = {1, Double.NaN, 5, Double.NaN, -2, 7};
        // inner = 1: one row [1, NaN, 5, NaN, -2, 7]
        Strided row = tensor(DType.F32, x, 1, 6, 1);
        Strided v = empty(DType.F32, 1), idx = empty(DType.I64, 1);
        CPU.reduce(ReduceOp.MAX, row, 1, 6, 1, v);
        assertTrue(Double.isNaN(read(v)[0]), "MAX propagates NaN");
        CPU.reduce(ReduceOp.MIN, row, 1, 6, 1, v);
        assertTrue(Double.isNaN(read(v)[0]), "MIN propagates NaN");
        CPU.reduce(ReduceOp.ARGMAX, row, 1, 6, 1, idx);
        assertEquals(1, readLongs(idx)[0], "the first NaN counts as the maximum");
        // inner = 2: columns [1, 5, -2] and [NaN, NaN, 7]
        Strided cols = tensor(DType.F32, x, 1, 3, 2);
        Strided v2 = empty(DType.F32, 2), idx2 = empty(DType.I64, 2);
        CPU.reduce(ReduceOp.MAX, cols, 1, 3, 2, v2);
        assertEquals(5.0, read(v2)[0]);
        assertTrue(Double.isNaN(read(v2)[1]));
        CPU.reduce(ReduceOp.ARGMAX, cols, 1, 3, 2, idx2);
        assertArrayEquals(new long[] {1, 0}, readLongs(idx2));
        CPU.reduce(ReduceOp.ARGMIN, cols, 1, 3, 2, idx2);
        assertArrayEquals(new long[] {2, 0}, readLongs(idx2));
        // NaN far away from the start, in a later block
        double[] big = uniform(rnd, 20_000, 0, 1);
        big[12_345] = Double.NaN;
        big[15_000] = Double.NaN;
        Strided in = tensor(DType.F32, big, 20_000);
        CPU.reduce(ReduceOp.ARGMAX, in, 1, 20_000, 1, idx);
        assertEquals(12_345, readLongs(idx)[0]);
    }

    @Test
    void firstIndexOnTies() {
        double[] x = new double[10_000];
        x[9000] = 5; x[100] = 5; x[5000] = 5; x[7] = -3; x[8000] = -3;
        Strided in = tensor(DType.F64, x, 10_000), idx = empty(DType.I64, 1);
        CPU.reduce(ReduceOp.ARGMAX, in, 1, 10_000, 1, idx);
        assertEquals(100, readLongs(idx)[0]);
        CPU.reduce(ReduceOp.ARGMIN, in, 1, 10_000, 1, idx);
        assertEquals(7, readLongs(idx)[0]);
    }

    @Test
    void emptyAxis() {
        Strided in = empty(DType.F32, 3, 0, 2), out = empty(DType.F32, 6);
        CPU.fill(out, 42);
        CPU.reduce(ReduceOp.SUM, in, 3, 0, 2, out);
        for (double v : read(out)) assertEquals(0.0, v);
        for (ReduceOp op : new ReduceOp[] {ReduceOp.MAX, ReduceOp.MIN, ReduceOp.ARGMAX, ReduceOp.ARGMIN}) {
            Strided o = empty(op.name().startsWith("ARG") ? DType.I64 : DType.F32, 6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CPU.reduce(op, in, 3, 0, 2, o));
            assertTrue(e.getMessage().contains(op.name()), e.getMessage());
        }
    }

    /** Identical bits for 1, 2 and 7 threads, for a 10^6-element row and for a column (inner > 1) reduction. */
    @Test
    void sumIsDeterministicAcrossThreadCounts() {
        double[] x = uniform(rnd, 1_000_000, -1, 1);
        long[] bits = new long[3];
        long[][] colBits = new long[3][];
        int k = 0;
        for (int threads : new int[] {1, 2, 7}) {
            CpuBackend be = new CpuBackend(threads);
            Strided in = tensor(be, DType.F32, x, 1_000_000), out = empty(be, DType.F32, 1);
            be.reduce(ReduceOp.SUM, in, 1, 1_000_000, 1, out);
            bits[k] = Float.floatToRawIntBits((float) read(out)[0]);
            Strided out6 = empty(be, DType.F32, 6);
            Strided in2 = Strided.contiguous(in.storage(), DType.F32, 4, 2, 166_666, 3);
            be.reduce(ReduceOp.SUM, in2, 2, 166_666, 3, out6);
            double[] c = read(out6);
            colBits[k] = new long[6];
            for (int i = 0; i < 6; i++) colBits[k][i] = Float.floatToRawIntBits((float) c[i]);
            k++;
            be.pool().shutdown();
        }
        assertEquals(bits[0], bits[1]);
        assertEquals(bits[0], bits[2]);
        assertArrayEquals(colBits[0], colBits[1]);
        assertArrayEquals(colBits[0], colBits[2]);
    }

    @Test
    void tenMillionF32SumIsAccurate() {
        int n = 10_000_000;
        Strided in = empty(DType.F32, n);
        CPU.random(dev.ballast.engine.backend.RandomKind.UNIFORM, 5, 0, in);
        double exact = 0;
        double[] x = read(in);
        for (int i = 0; i < n; i++) exact += x[i];   // a double reference is ample: its error is ~1e-10 relative at most
        Strided out = empty(DType.F32, 1);
        CPU.reduce(ReduceOp.SUM, in, 1, n, 1, out);
        assertEquals(exact, read(out)[0], 1e-6 * exact);
        in.storage().release();
    }
}
