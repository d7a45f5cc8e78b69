package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.backend.Strided;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CopyAndCastTest {
    private final Random rnd = new Random(77);

    @Test
    void transposedViewBecomesContiguous() {
        int a = 123, b = 301;
        for (DType t : DType.values()) {
            double[] v = representable(t, uniform(rnd, a * b, -100, 100));
            Strided src = tensor(t, v, a, b).withLayout(new long[] {b, a}, new long[] {1, b});   // the transpose
            Strided dst = empty(t, b, a);
            CPU.copy(src, dst);
            double[] got = read(dst);
            for (int i = 0; i < b; i++)
                for (int j = 0; j < a; j++)
                    assertEquals(v[j * b + i], got[i * a + j], 0.0, t + " transpose at " + i + "," + j);
        }
    }

    @Test
    void stridedSliceWithOffsetAndBroadcast() {
        double[] v = uniform(rnd, 1000, -1, 1);
        Strided base = tensor(DType.F64, v, 1000);
        // every third element starting at 10, 50 of them, then repeated over 4 rows
        Strided src = base.withLayout(new long[] {4, 50}, new long[] {0, 3});
        src = new Strided(src.storage(), src.dtype(), 10, src.shape(), src.strides());
        Strided dst = empty(DType.F32, 4, 50);
        CPU.copy(src, dst);
        double[] got = read(dst);
        for (int r = 0; r < 4; r++)
            for (int i = 0; i < 50; i++) assertEquals((float) v[10 + 3 * i], got[r * 50 + i], 0.0);
    }

    /** Every pair of dtypes, checked against the conversion rules applied one value at a time. */
    @Test
    void allCastPairs() {
        double[] v = {0.0, -0.0, 1.5, -2.5, 3.75, 1e-3, 65504, 70000, -1e6, 123456789.0, 2.9e9, -7.9, 0.1};
        for (DType from : DType.values()) {
            double[] in = representable(from, v);
            Strided src = tensor(from, in, in.length);
            for (DType to : DType.values()) {
                Strided dst = empty(to, in.length);
                CPU.copy(src, dst);
                double[] got = read(dst);
                for (int i = 0; i < in.length; i++) {
                    double expect = switch (to) {
                        case F32 -> (float) in[i];
                        case F64 -> in[i];
                        case F16 -> HalfFloats.f16ToFloat(HalfFloats.doubleToF16(in[i]));
                        case BF16 -> HalfFloats.bf16ToFloat(HalfFloats.doubleToBf16(in[i]));
                        case I32 -> from.isFloating() ? (int) in[i] : (int) (long) in[i];   // integers wrap, floats saturate
                        case I64 -> (long) in[i];
                    };
                    assertEquals(expect, got[i], 0.0, from + " -> " + to + " of " + in[i]);
                }
            }
        }
    }

    @Test
    void castEdgeCases() {
        double[] v = {Double.NaN, Double.POSITIVE_INFINITY, -3.9, 3.9, 1e40, 65520, 0x1p-24, 0x1p-25};
        Strided src = tensor(DType.F64, v, v.length);
        Strided i32 = empty(DType.I32, v.length);
        CPU.copy(src, i32);
        long[] ints = readLongs(i32);
        assertEquals(0, ints[0], "NaN to int is 0");
        assertEquals(Integer.MAX_VALUE, ints[1]);
        assertEquals(-3, ints[2], "truncates toward zero");
        assertEquals(3, ints[3]);
        Strided f32 = empty(DType.F32, v.length);
        CPU.copy(src, f32);
        assertTrue(Float.isInfinite((float) read(f32)[4]), "overflow to inf");
        Strided f16 = empty(DType.F16, v.length);
        CPU.copy(src, f16);
        double[] h = read(f16);
        assertTrue(Double.isNaN(h[0]));
        assertEquals(Double.POSITIVE_INFINITY, h[5], "65520 rounds to inf in f16");
        assertEquals(0x1p-24, h[6], "smallest subnormal kept");
        assertEquals(0.0, h[7], "half the smallest subnormal: tie to even");
        // F64 -> F16 rounds once: 1 + 2^-11 + 2^-30 goes up, although through float it would be a tie
        Strided once = tensor(DType.F64, new double[] {1.0 + 0x1p-11 + 0x1p-30, 1.0 + 0x1p-8 + 0x1p-40}, 2);
        Strided o16 = empty(DType.F16, 2), ob16 = empty(DType.BF16, 2);
        CPU.copy(once, o16);
        CPU.copy(once, ob16);
        assertEquals(1.0 + 0x1p-10, read(o16)[0], 0.0);
        assertEquals(1.0 + 0x1p-7, read(ob16)[1], 0.0);
        // BF16 <-> F32 round trip and NaN staying NaN
        Strided nan32 = tensor(DType.F32, new double[] {Double.NaN, 1.00390625, 3.0e38}, 3);
        Strided bf = empty(DType.BF16, 3);
        CPU.copy(nan32, bf);
        double[] b = read(bf);
        assertTrue(Double.isNaN(b[0]));
        assertEquals(1.0, b[1], 0.0, "1 + 2^-8 ties to even");
        assertEquals(Double.POSITIVE_INFINITY, (double) HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.MAX_VALUE)));
        // I64 -> F32 rounds once from the integer
        long big = (1L << 40) + (1L << 16) + 1;   // just above a float tie
        Strided l = longs(DType.I64, new long[] {big}, 1), lf = empty(DType.F32, 1);
        CPU.copy(l, lf);
        assertEquals((float) big, read(lf)[0], 0.0);
    }

    @Test
    void sameDtypeCopyKeepsBits() {
        float weird = Float.intBitsToFloat(0x7FA0_1234);   // a NaN with a payload
        Strided s = tensor(DType.F32, new double[] {0, 0}, 2);
        seg(s).setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 1, Float.floatToRawIntBits(weird));
        Strided d = empty(DType.F32, 2);
        CPU.copy(s.withLayout(new long[] {2}, new long[] {1}), d);
        assertEquals(0x7FA0_1234, seg(d).getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 1));
    }

    @Test
    void fillEveryDtype() {
        for (DType t : DType.values()) {
            Strided d = empty(t, 100_003);
            CPU.fill(d, -2.5);
            double expect = t.isFloating() ? -2.5 : -2;
            for (double x : read(d)) assertEquals(expect, x, 0.0, t.toString());
            CPU.fill(d, 0);
            for (double x : read(d)) assertEquals(0.0, x, 0.0, t.toString());
        }
        Strided h = empty(DType.F16, 3);
        CPU.fill(h, 1e6);
        assertEquals(Double.POSITIVE_INFINITY, read(h)[2]);
        Strided b = empty(DType.BF16, 3);
        CPU.fill(b, 1.0 + 0x1p-8 + 0x1p-40);
        assertEquals(1.0 + 0x1p-7, read(b)[0], 0.0, "fill rounds once from double");
    }

    @Test
    void sizeMismatchIsReported() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CPU.copy(empty(DType.F32, 3), empty(DType.F32, 4)));
        assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[4]"), e.getMessage());
    }
}
