package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.util.Random;
import java.util.function.DoubleBinaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ElementwiseTest {
    private final Random rnd = new Random(20240611L);

    /** float64 reference for every unary op (GELU through an erfc written independently in the test). */
    static double refUnary(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case RELU -> x > 0 ? x : 0;
            case GELU -> x == Double.NEGATIVE_INFINITY ? -0.0 : 0.5 * x * ReferenceErf.erfc(-x / Math.sqrt(2));
            case ERF -> Math.abs(x) < 2 ? erfSeries(x) : 1 - ReferenceErf.erfc(x);
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case SIGN -> Math.signum(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
            case ISFINITE -> Double.isFinite(x) ? 1 : 0;
            case ISNAN -> Double.isNaN(x) ? 1 : 0;
        };
    }

    /** Maclaurin series of erf in 40-digit decimal arithmetic, exact to rounding where 1 - erfc(x) would cancel. */
    static double erfSeries(double x) {
        java.math.MathContext mc = new java.math.MathContext(40);
        java.math.BigDecimal bx = new java.math.BigDecimal(x), x2 = bx.multiply(bx, mc).negate();
        java.math.BigDecimal term = bx, sum = bx;
        for (int n = 1; n < 120; n++) {
            term = term.multiply(x2, mc).divide(java.math.BigDecimal.valueOf(n), mc);
            sum = sum.add(term.divide(java.math.BigDecimal.valueOf(2L * n + 1), mc), mc);
        }
        java.math.BigDecimal twoOverSqrtPi = new java.math.BigDecimal("1.128379167095512573896158903121545171688");
        return sum.multiply(twoOverSqrtPi, mc).doubleValue();
    }

    static double refBinary(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
        };
    }

    private double[] inputsFor(UnaryOp op, int n) {
        return switch (op) {
            case LOG, SQRT, RSQRT -> uniform(rnd, n, 0.01, 50);
            case EXP -> uniform(rnd, n, -20, 20);
            case GELU -> uniform(rnd, n, -12, 12);
            default -> uniform(rnd, n, -8, 8);
        };
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryF32AndF64MatchFloat64Reference(UnaryOp op) {
        int n = 70_003;   // crosses task boundaries and leaves a vector tail
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            double[] in = representable(t, inputsFor(op, n));
            Strided x = tensor(t, in, n), out = empty(t, n);
            CPU.unary(op, x, out);
            double[] got = read(out);
            for (int i = 0; i < n; i++) {
                double ref = refUnary(op, in[i]);
                int k = i;
                boolean ok = t == DType.F64 && (op == UnaryOp.GELU || op == UnaryOp.ERF)
                        ? Math.abs(got[i] - ref) <= 1e-13 * Math.abs(ref)   // the references round differently (x/sqrt2, 1 - erfc)
                        : ulps(t, got[i], ref) <= 1.0;
                assertTrue(ok,
                        () -> op + " " + t + " at x=" + in[k] + ": got " + got[k] + ", float64 reference " + ref);
            }
        }
    }

    @Test
    void unarySpecialValues() {
        double[] in = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -2.5, 3.0};
        Strided x = tensor(DType.F32, in, in.length), out = empty(DType.F32, in.length);
        CPU.unary(UnaryOp.SIGN, x, out);
        double[] s = read(out);
        assertEquals(0.0, s[0]);
        assertEquals(0.0, s[1]);
        assertTrue(Double.isNaN(s[2]), "SIGN(NaN) is NaN");
        assertArrayEquals(new double[] {1, -1, -1, 1}, java.util.Arrays.copyOfRange(s, 3, 7));
        CPU.unary(UnaryOp.ISFINITE, x, out);
        assertArrayEquals(new double[] {1, 1, 0, 0, 0, 1, 1}, read(out));
        CPU.unary(UnaryOp.ISNAN, x, out);
        assertArrayEquals(new double[] {0, 0, 1, 0, 0, 0, 0}, read(out));
        CPU.unary(UnaryOp.RELU, x, out);
        assertTrue(Double.isNaN(read(out)[2]), "RELU keeps NaN");
        CPU.unary(UnaryOp.GELU, x, out);
        double[] g = read(out);
        assertEquals(Double.POSITIVE_INFINITY, g[3]);
        assertTrue(g[4] == 0, "GELU(-inf) is 0 (the limit), not NaN: " + g[4]);
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryFloatMatchesReference(BinaryOp op) {
        int n = 66_000;
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            double[] av = representable(t, uniform(rnd, n, op == BinaryOp.POW ? 0.1 : -10, 10));
            double[] bv = representable(t, uniform(rnd, n, op == BinaryOp.POW ? -3 : -10, op == BinaryOp.POW ? 3 : 10));
            for (int i = 0; i < n; i += 7) bv[i] = av[i];   // exercise the equal case of comparisons
            Strided a = tensor(t, av, n), b = tensor(t, bv, n), out = empty(t, n);
            CPU.binary(op, a, b, out);
            double[] got = read(out);
            for (int i = 0; i < n; i++) {
                double ref = refBinary(op, av[i], bv[i]);
                int k = i;
                assertTrue(ulps(t, got[i], ref) <= (op == BinaryOp.POW ? 1.0 : 0.5),
                        () -> op + " " + t + " (" + av[k] + ", " + bv[k] + "): got " + got[k] + ", reference " + ref);
            }
        }
    }

    @Test
    void maxMinPropagateNaN() {
        double[] av = {1, Double.NaN, 3, Double.NaN, -0.0};
        double[] bv = {Double.NaN, 2, 1, Double.NaN, 0.0};
        for (int rep : new int[] {1, 40}) {   // short (scalar tail) and long (vector loop) rows
            int n = av.length * rep;
            double[] a = new double[n], b = new double[n];
            for (int i = 0; i < n; i++) { a[i] = av[i % 5]; b[i] = bv[i % 5]; }
            Strided ta = tensor(DType.F32, a, n), tb = tensor(DType.F32, b, n), out = empty(DType.F32, n);
            CPU.binary(BinaryOp.MAX, ta, tb, out);
            double[] mx = read(out);
            CPU.binary(BinaryOp.MIN, ta, tb, out);
            double[] mn = read(out);
            for (int i = 0; i < n; i++) {
                assertEquals(Math.max(a[i], b[i]), mx[i], "max at " + i);
                assertEquals(Math.min(a[i], b[i]), mn[i], "min at " + i);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = BinaryOp.class, names = {"ADD", "SUB", "MUL", "DIV", "MAX", "MIN", "EQ", "NE", "LT", "LE", "GT", "GE", "POW"})
    void binaryIntegers(BinaryOp op) {
        int n = 5000;
        for (DType t : new DType[] {DType.I32, DType.I64}) {
            long[] av = new long[n], bv = new long[n];
            for (int i = 0; i < n; i++) {
                av[i] = t == DType.I32 ? rnd.nextInt() : rnd.nextLong();
                bv[i] = t == DType.I32 ? rnd.nextInt() : rnd.nextLong();
                if (op == BinaryOp.DIV && i % 3 == 0) bv[i] = rnd.nextInt(19) - 9 | 1;   // small divisors, negative ones too
                if (op == BinaryOp.POW) { av[i] = rnd.nextInt(7) - 3; bv[i] = rnd.nextInt(12); }
                if (i % 11 == 0 && op != BinaryOp.POW) bv[i] = av[i];
            }
            Strided a = longs(t, av, n), b = longs(t, bv, n), out = empty(t, n);
            CPU.binary(op, a, b, out);
            long[] got = readLongs(out);
            for (int i = 0; i < n; i++) {
                long x = av[i], y = bv[i];
                long ref = switch (op) {
                    case ADD -> x + y; case SUB -> x - y; case MUL -> x * y; case DIV -> x / y;
                    case MAX -> Math.max(x, y); case MIN -> Math.min(x, y);
                    case EQ -> x == y ? 1 : 0; case NE -> x != y ? 1 : 0; case LT -> x < y ? 1 : 0;
                    case LE -> x <= y ? 1 : 0; case GT -> x > y ? 1 : 0; case GE -> x >= y ? 1 : 0;
                    case POW -> { long r = 1; for (int k = 0; k < y; k++) r *= x; yield r; }
                };
                if (t == DType.I32) ref = (int) ref;   // wrap-around
                assertEquals(ref, got[i], op + " " + t + " (" + x + ", " + y + ")");
            }
        }
    }

    @Test
    void integerDivisionTruncatesAndRefusesZero() {
        Strided a = longs(DType.I32, new long[] {7, -7, 7, -7}, 4), b = longs(DType.I32, new long[] {2, 2, -2, -2}, 4);
        Strided out = empty(DType.I32, 4);
        CPU.binary(BinaryOp.DIV, a, b, out);
        assertArrayEquals(new long[] {3, -3, -3, 3}, readLongs(out));
        Strided z = longs(DType.I32, new long[] {1, 0, 1, 1}, 4);
        ArithmeticException e = assertThrows(ArithmeticException.class, () -> CPU.binary(BinaryOp.DIV, a, z, out));
        assertTrue(e.getMessage().contains("division by zero"), e.getMessage());
    }

    @Test
    void integerUnary() {
        Strided x = longs(DType.I64, new long[] {-5, 0, 9, Long.MIN_VALUE + 1}, 4), out = empty(DType.I64, 4);
        CPU.unary(UnaryOp.NEG, x, out);
        assertArrayEquals(new long[] {5, 0, -9, Long.MAX_VALUE}, readLongs(out));
        CPU.unary(UnaryOp.ABS, x, out);
        assertArrayEquals(new long[] {5, 0, 9, Long.MAX_VALUE}, readLongs(out));
        CPU.unary(UnaryOp.SIGN, x, out);
        assertArrayEquals(new long[] {-1, 0, 1, -1}, readLongs(out));
        CPU.unary(UnaryOp.SQUARE, x, out);
        assertEquals(81, readLongs(out)[2]);
        CPU.unary(UnaryOp.RELU, x, out);
        assertArrayEquals(new long[] {0, 0, 9, 0}, readLongs(out));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> CPU.unary(UnaryOp.EXP, x, out));
        assertTrue(e.getMessage().contains("EXP") && e.getMessage().contains("I64"), e.getMessage());
    }

    /** Bias add: [rows, cols] + [cols] broadcast through a zero row stride, and + [rows, 1] through a zero column stride. */
    @Test
    void broadcastingThroughZeroStrides() {
        int rows = 300, cols = 257;
        for (DType t : new DType[] {DType.F32, DType.F64, DType.I32}) {
            double[] xv = t == DType.I32 ? ints(rows * cols) : uniform(rnd, rows * cols, -5, 5);
            double[] bias = t == DType.I32 ? ints(cols) : uniform(rnd, cols, -5, 5);
            double[] colv = t == DType.I32 ? ints(rows) : uniform(rnd, rows, -5, 5);
            xv = representable(t, xv); bias = representable(t, bias); colv = representable(t, colv);
            Strided x = tensor(t, xv, rows, cols), out = empty(t, rows, cols);
            Strided b = tensor(t, bias, cols).withLayout(new long[] {rows, cols}, new long[] {0, 1});
            CPU.binary(BinaryOp.ADD, x, b, out);
            double[] got = read(out);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                    assertEquals(rnd32(t, xv[r * cols + c] + bias[c]), got[r * cols + c], 0.0, t + " row broadcast");
            Strided cv = tensor(t, colv, rows).withLayout(new long[] {rows, cols}, new long[] {1, 0});
            CPU.binary(BinaryOp.MUL, cv, x, out);
            got = read(out);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                    assertEquals(rnd32(t, colv[r] * xv[r * cols + c]), got[r * cols + c], 0.0, t + " column broadcast");
            // a single scalar tensor broadcast over everything
            Strided one = tensor(t, new double[] {3}, 1).withLayout(new long[] {rows, cols}, new long[] {0, 0});
            CPU.binary(BinaryOp.SUB, one, x, out);
            got = read(out);
            for (int i = 0; i < rows * cols; i++) assertEquals(rnd32(t, 3 - xv[i]), got[i], 0.0);
            // unary of a broadcast input
            if (t != DType.I32) {
                CPU.unary(UnaryOp.SQUARE, b, out);
                got = read(out);
                for (int i = 0; i < rows * cols; i++) assertEquals(rnd32(t, bias[i % cols] * bias[i % cols]), got[i], 0.0);
            }
        }
    }

    private double[] ints(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextInt(2001) - 1000;
        return v;
    }

    private static double rnd32(DType t, double v) { return t == DType.F32 ? (float) v : v; }

    @Test
    void stridedTransposedOperands() {
        int r = 130, c = 77;
        double[] av = representable(DType.F32, uniform(rnd, r * c, -3, 3)), bv = representable(DType.F32, uniform(rnd, r * c, -3, 3));
        // a is stored [c, r] and viewed transposed as [r, c]
        Strided a = tensor(DType.F32, av, c, r).withLayout(new long[] {r, c}, new long[] {1, r});
        Strided b = tensor(DType.F32, bv, r, c), out = empty(DType.F32, r, c);
        CPU.binary(BinaryOp.DIV, a, b, out);
        double[] got = read(out);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                assertEquals((float) (av[j * r + i] / bv[i * c + j]), got[i * c + j], 0.0);
        CPU.unary(UnaryOp.TANH, a, out);
        got = read(out);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                assertEquals((float) Math.tanh(av[j * r + i]), got[i * c + j], 0.0);
    }

    @Test
    void scalarForms() {
        int n = 40_000;
        double s = 0.1;   // rounded to float for F32 first, as PyTorch does
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            double[] xv = representable(t, uniform(rnd, n, -4, 4));
            Strided x = tensor(t, xv, n), out = empty(t, n);
            double sc = t == DType.F32 ? (float) s : s;
            for (BinaryOp op : BinaryOp.values()) {
                DoubleBinaryOperator f = (p, q) -> refBinary(op, p, q);
                CPU.binaryScalar(op, x, s, false, out);
                double[] got = read(out);
                for (int i = 0; i < n; i++) assertTrue(ulps(t, got[i], f.applyAsDouble(xv[i], sc)) <= 1, op + " x,s " + t);
                CPU.binaryScalar(op, x, s, true, out);
                got = read(out);
                for (int i = 0; i < n; i++) assertTrue(ulps(t, got[i], f.applyAsDouble(sc, xv[i])) <= 1, op + " s,x " + t);
            }
        }
        Strided xi = longs(DType.I32, new long[] {5, -6, 7}, 3), oi = empty(DType.I32, 3);
        CPU.binaryScalar(BinaryOp.SUB, xi, 10, true, oi);
        assertArrayEquals(new long[] {5, 16, 3}, readLongs(oi));
    }

    @Test
    void whereSelectsByNonzeroCondition() {
        int n = 10_000;
        double[] cv = new double[n];
        for (int i = 0; i < n; i++) cv[i] = rnd.nextInt(3) - 1;   // -1, 0, 1: nonzero is true
        cv[5] = Double.NaN;                                         // NaN is nonzero
        double[] av = uniform(rnd, n, -1, 1), bv = uniform(rnd, n, -1, 1);
        for (DType ct : new DType[] {DType.F32, DType.I32, DType.I64}) {
            Strided c = tensor(ct, cv, n);
            Strided a = tensor(DType.F64, av, n), b = tensor(DType.F64, bv, n), out = empty(DType.F64, n);
            CPU.where(c, a, b, out);
            double[] got = read(out);
            for (int i = 0; i < n; i++) {
                boolean take = ct == DType.F32 ? cv[i] != 0 : (long) cv[i] != 0;
                assertEquals(take ? av[i] : bv[i], got[i], 0.0, ct + " at " + i);
            }
        }
        Strided c = tensor(DType.F32, new double[] {1, 0}, 2).withLayout(new long[] {3, 2}, new long[] {0, 1});
        Strided a = longs(DType.I64, new long[] {Long.MAX_VALUE, 1, 2, 3, 4, 5}, 3, 2);
        Strided b = longs(DType.I64, new long[] {-1}, 1).withLayout(new long[] {3, 2}, new long[] {0, 0});
        Strided out = empty(DType.I64, 3, 2);
        CPU.where(c, a, b, out);
        assertArrayEquals(new long[] {Long.MAX_VALUE, -1, 2, -1, 4, -1}, readLongs(out), "i64 select is exact");
    }

    @Test
    void sameResultsForAnyThreadCount() {
        int n = 300_001;
        double[] xv = uniform(rnd, n, -3, 3);
        double[][] results = new double[3][];
        int k = 0;
        for (int threads : new int[] {1, 2, 7}) {
            CpuBackend be = new CpuBackend(threads);
            Strided x = tensor(be, DType.F32, xv, n), out = empty(be, DType.F32, n);
            be.unary(UnaryOp.GELU, x, out);
            results[k++] = read(out);
            be.pool().shutdown();
        }
        assertArrayEquals(results[0], results[1]);
        assertArrayEquals(results[0], results[2]);
    }

    @Test
    void halfOperandsComputeThroughFloat() {
        double[] xv = {1.5, -2.25, 3.0, 1000.0};
        for (DType t : new DType[] {DType.F16, DType.BF16}) {
            Strided x = tensor(t, xv, 4), y = tensor(t, xv, 4), out = empty(t, 4);
            CPU.binary(BinaryOp.ADD, x, y, out);
            assertArrayEquals(new double[] {3, -4.5, 6, 2000}, read(out), 0.0, t.toString());
        }
    }
}
