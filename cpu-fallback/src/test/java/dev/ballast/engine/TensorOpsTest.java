package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cpu.CpuBackend;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every Tensor op on the CPU backend against a float64 reference computed here, on fresh random inputs. */
class TensorOpsTest {
    static final Device CPU = Device.cpu();
    final SplittableRandom rng = new SplittableRandom(System.nanoTime());
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    double[] random(int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.nextDouble();
        return v;
    }

    Tensor t(double[] v, long... shape) { return Tensor.fromArray(CPU, DType.F64, v, shape); }

    static void close(double[] expected, double[] actual, double rtol, double atol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e)) {
                assertTrue(Double.isNaN(a), "index " + i + ": expected NaN, got " + a);
                continue;
            }
            if (Double.isInfinite(e)) {
                assertEquals(e, a, "index " + i);
                continue;
            }
            assertTrue(Math.abs(a - e) <= atol + rtol * Math.abs(e), "index " + i + ": expected " + e + ", got " + a);
        }
    }

    @Test void unaryOpsMatchFloat64() {
        double[] x = random(257, -3, 3);
        double[] pos = random(257, 0.01, 5);
        record U(String name, java.util.function.Function<Tensor, Tensor> op, DoubleUnaryOperator ref, boolean positive) {}
        List<U> ops = List.of(
                new U("neg", Tensor::neg, v -> -v, false), new U("abs", Tensor::abs, Math::abs, false),
                new U("exp", Tensor::exp, Math::exp, false), new U("log", Tensor::log, Math::log, true),
                new U("sqrt", Tensor::sqrt, Math::sqrt, true), new U("rsqrt", Tensor::rsqrt, v -> 1 / Math.sqrt(v), true),
                new U("tanh", Tensor::tanh, Math::tanh, false), new U("sigmoid", Tensor::sigmoid, v -> 1 / (1 + Math.exp(-v)), false),
                new U("relu", Tensor::relu, v -> Math.max(v, 0), false),
                new U("gelu", Tensor::gelu, v -> 0.5 * v * (1 + Erf.erf(v / Math.sqrt(2))), false),
                new U("sin", Tensor::sin, Math::sin, false), new U("cos", Tensor::cos, Math::cos, false),
                new U("sign", Tensor::sign, Math::signum, false), new U("square", Tensor::square, v -> v * v, false),
                new U("reciprocal", Tensor::reciprocal, v -> 1 / v, true));
        for (DType dt : new DType[]{DType.F64, DType.F32}) {
            for (U u : ops) {
                double[] in = u.positive ? pos : x;
                double[] expect = new double[in.length];
                for (int i = 0; i < in.length; i++) expect[i] = u.ref.applyAsDouble(in[i]);
                Tensor a = Tensor.fromArray(CPU, dt, in, in.length);
                double tol = dt == DType.F64 ? 1e-12 : 2e-6;
                // F32 inputs are rounded first, so compare against the reference at the rounded input.
                double[] rounded = a.toDoubleArray();
                for (int i = 0; i < in.length; i++) expect[i] = u.ref.applyAsDouble(rounded[i]);
                close(expect, u.op.apply(a).toDoubleArray(), tol, tol);
            }
        }
    }

    @Test void binaryBroadcastingMatchesFloat64() {
        double[] a = random(3 * 1 * 5, -2, 2), b = random(4 * 5, 0.5, 2);
        Tensor ta = t(a, 3, 1, 5), tb = t(b, 4, 5);
        record B(String name, java.util.function.BinaryOperator<Tensor> op, DoubleBinaryOperator ref) {}
        List<B> ops = List.of(new B("add", Tensor::add, Double::sum), new B("sub", Tensor::sub, (x, y) -> x - y),
                new B("mul", Tensor::mul, (x, y) -> x * y), new B("div", Tensor::div, (x, y) -> x / y),
                new B("pow", (x, y) -> x.abs().pow(y), (x, y) -> Math.pow(Math.abs(x), y)),
                new B("max", Tensor::maximum, Math::max), new B("min", Tensor::minimum, Math::min),
                new B("lt", Tensor::lt, (x, y) -> x < y ? 1 : 0), new B("ge", Tensor::ge, (x, y) -> x >= y ? 1 : 0),
                new B("eq", Tensor::eq, (x, y) -> x == y ? 1 : 0));
        for (B op : ops) {
            Tensor out = op.op.apply(ta, tb);
            assertArrayEquals(new long[]{3, 4, 5}, out.shape(), op.name);
            double[] expect = new double[60];
            for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) for (int k = 0; k < 5; k++)
                expect[(i * 4 + j) * 5 + k] = op.ref.applyAsDouble(a[i * 5 + k], b[j * 5 + k]);
            close(expect, out.toDoubleArray(), 1e-12, 1e-12);
        }
        close(new double[]{a[0] + 1.5}, ta.narrow(0, 0, 1).narrow(2, 0, 1).add(1.5).flatten().toDoubleArray(), 1e-12, 0);
    }

    @Test void reductionsOverAnyAxes() {
        int d0 = 3, d1 = 4, d2 = 5;
        double[] x = random(d0 * d1 * d2, -1, 1);
        Tensor tx = t(x, d0, d1, d2);
        // sum over axes {0, 2}, keepdim
        double[] s02 = new double[d1];
        double[] m1 = new double[d0 * d2];
        for (int i = 0; i < d0; i++) for (int j = 0; j < d1; j++) for (int k = 0; k < d2; k++) {
            s02[j] += x[(i * d1 + j) * d2 + k];
        }
        for (int i = 0; i < d0; i++) for (int k = 0; k < d2; k++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < d1; j++) m = Math.max(m, x[(i * d1 + j) * d2 + k]);
            m1[i * d2 + k] = m;
        }
        Tensor sum = tx.sum(new int[]{0, 2}, true);
        assertArrayEquals(new long[]{1, d1, 1}, sum.shape());
        close(s02, sum.toDoubleArray(), 1e-12, 1e-12);
        close(m1, tx.max(1, false).toDoubleArray(), 0, 0);
        double total = 0, l1 = 0, l2 = 0, linf = 0;
        for (double v : x) { total += v; l1 += Math.abs(v); l2 += v * v; linf = Math.max(linf, Math.abs(v)); }
        close(new double[]{total / x.length}, new double[]{tx.mean().item()}, 1e-12, 1e-12);
        close(new double[]{l1, Math.sqrt(l2), linf}, new double[]{tx.norm(1).item(), tx.norm(2).item(),
                tx.norm(Double.POSITIVE_INFINITY).item()}, 1e-12, 1e-12);
        double mean = total / x.length, var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        close(new double[]{var / (x.length - 1)}, new double[]{tx.var(new int[]{0, 1, 2}, 1, false).item()}, 1e-12, 1e-12);
        long[] am = tx.argmax(1, false).toLongArray();
        for (int i = 0; i < d0; i++) for (int k = 0; k < d2; k++)
            assertEquals(m1[i * d2 + k], x[(int) ((i * d1 + am[i * d2 + k]) * d2 + k)]);
        // a permuted (non-contiguous) input reduces the same
        close(s02, tx.permute(2, 0, 1).sum(new int[]{0, 1}, false).toDoubleArray(), 1e-12, 1e-12);
    }

    @Test void matmulBatchedWithBroadcastBatchDims() {
        int b = 3, m = 5, k = 7, n = 4;
        double[] a = random(b * m * k, -1, 1), w = random(k * n, -1, 1);
        Tensor ta = t(a, b, m, k), tw = t(w, k, n);
        double[] expect = new double[b * m * n];
        for (int p = 0; p < b; p++) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
            double s = 0;
            for (int q = 0; q < k; q++) s += a[(p * m + i) * k + q] * w[q * n + j];
            expect[(p * m + i) * n + j] = s;
        }
        close(expect, ta.matmul(tw).toDoubleArray(), 1e-12, 1e-12);
        // transposed operand views need no copy and give the same result
        Tensor wt = t(w, k, n).mT().contiguous().mT();
        close(expect, ta.matmul(wt).toDoubleArray(), 1e-12, 1e-12);
        // F32
        close(expect, ta.to(DType.F32).matmul(tw.to(DType.F32)).toDoubleArray(), 1e-5, 1e-5);
        // 1-D operands
        double[] v = random(k, -1, 1);
        double dot = 0;
        for (int q = 0; q < k; q++) dot += v[q] * v[q];
        close(new double[]{dot}, new double[]{t(v, k).matmul(t(v, k)).item()}, 1e-12, 1e-12);
    }

    @Test void softmaxIsStableAndNormalized() {
        double[] x = random(4 * 6, -50, 50);
        x[0] = 1000;
        Tensor tx = t(x, 4, 6);
        double[] sm = tx.softmax(1).toDoubleArray(), lsm = tx.logSoftmax(1).toDoubleArray();
        for (int r = 0; r < 4; r++) {
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int c = 0; c < 6; c++) max = Math.max(max, x[r * 6 + c]);
            for (int c = 0; c < 6; c++) z += Math.exp(x[r * 6 + c] - max);
            for (int c = 0; c < 6; c++) {
                double e = Math.exp(x[r * 6 + c] - max) / z;
                assertEquals(e, sm[r * 6 + c], 1e-12);
                assertEquals(x[r * 6 + c] - max - Math.log(z), lsm[r * 6 + c], 1e-9);
            }
        }
        // over axis 0 equals the transpose's softmax over axis 1
        close(tx.mT().softmax(1).mT().contiguous().toDoubleArray(), tx.softmax(0).toDoubleArray(), 1e-12, 0);
    }

    @Test void viewsAliasTheirBase() {
        Tensor base = t(random(12, -1, 1), 3, 4);
        Tensor row = base.narrow(0, 1, 1);
        Tensor tr = base.mT();
        Tensor flat = base.reshape(12);
        row.fill(7); // narrow of a contiguous row is contiguous: in-place allowed
        assertEquals(7, base.toDoubleArray()[4]);
        assertEquals(7, tr.toDoubleArray()[1 * 3 + 1]);
        assertEquals(7, flat.toDoubleArray()[5]);
        assertTrue(!tr.isContiguous());
        assertEquals(base.storage(), tr.storage());
        Tensor ex = t(new double[]{1, 2, 3}, 3, 1).expand(3, 4);
        assertArrayEquals(new long[]{0, 0}, new long[]{ex.strides()[1], 0});
        close(new double[]{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, ex.toDoubleArray(), 0, 0);
        Tensor sl = t(new double[]{0, 1, 2, 3, 4, 5, 6}, 7).slice(0, 1, -1, 2);
        close(new double[]{1, 3, 5}, sl.toDoubleArray(), 0, 0);
    }

    @Test void concatStackSplitGatherScatter() {
        Tensor a = t(new double[]{1, 2, 3, 4}, 2, 2), b = t(new double[]{5, 6}, 1, 2);
        close(new double[]{1, 2, 3, 4, 5, 6}, Tensor.concat(List.of(a, b), 0).toDoubleArray(), 0, 0);
        Tensor st = Tensor.stack(List.of(a, a), 2);
        assertArrayEquals(new long[]{2, 2, 2}, st.shape());
        close(new double[]{1, 1, 2, 2, 3, 3, 4, 4}, st.toDoubleArray(), 0, 0);
        List<Tensor> parts = Tensor.concat(List.of(a, b), 0).split(new long[]{1, 2}, 0);
        close(new double[]{3, 4, 5, 6}, parts.get(1).toDoubleArray(), 0, 0);
        Tensor emb = t(new double[]{0, 0, 1, 1, 2, 2}, 3, 2);
        Tensor idx = Tensor.fromArray(CPU, new long[]{2, 0, 2}, 3);
        close(new double[]{2, 2, 0, 0, 2, 2}, emb.indexSelect(0, idx).toDoubleArray(), 0, 0);
        Tensor g = t(new double[]{10, 11, 12, 20, 21, 22}, 2, 3).gather(1, Tensor.fromArray(CPU, new long[]{2, 0}, 2, 1));
        close(new double[]{12, 20}, g.toDoubleArray(), 0, 0);
        Tensor sa = Tensor.zeros(CPU, DType.F64, 2, 3).scatterAdd(1, Tensor.fromArray(CPU, new long[]{1, 1, 0, 2}, 2, 2),
                t(new double[]{1, 2, 3, 4}, 2, 2));
        close(new double[]{0, 3, 0, 3, 0, 4}, sa.toDoubleArray(), 0, 0);
        close(new double[]{0, 1, 0, 1, 0, 0}, Tensor.fromArray(CPU, new long[]{1, 0}, 2).oneHot(3).toDoubleArray(), 0, 0);
        Tensor w = Tensor.where(t(new double[]{1, 0, 1}, 3), t(new double[]{1, 2, 3}, 3), t(new double[]{-1}, 1));
        close(new double[]{1, -1, 3}, w.toDoubleArray(), 0, 0);
        close(new double[]{0, 1, 0}, t(new double[]{1, Double.NaN, 2}, 3).isNan().toDoubleArray(), 0, 0);
        close(new double[]{1, 0, 0}, t(new double[]{1, Double.POSITIVE_INFINITY, Double.NaN}, 3).isFinite().toDoubleArray(), 0, 0);
        close(new double[]{-1, 0.5, 1}, t(new double[]{-3, 0.5, 9}, 3).clamp(-1, 1).toDoubleArray(), 0, 0);
    }

    @Test void castsRoundToNearestEvenAndKeepSpecialValues() {
        double[] edge = {65504, 65520, 1e6, 5.960464477539063e-8, -0.0, Double.NaN, Double.NEGATIVE_INFINITY, 1 + 1.0 / 2048};
        double[] f16 = Tensor.fromArray(CPU, DType.F16, edge, edge.length).toDoubleArray();
        close(new double[]{65504, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 5.960464477539063e-8, -0.0, Double.NaN,
                Double.NEGATIVE_INFINITY, 1}, f16, 0, 0);
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(f16[4]), "-0 keeps its sign");
        double[] bf = Tensor.fromArray(CPU, DType.BF16, new double[]{1 + 1.0 / 256, 3.3895313892515355e38, Double.NaN}, 3).toDoubleArray();
        close(new double[]{1, 3.3895313892515355e38, Double.NaN}, bf, 0, 0);
        // arithmetic on halves runs in F32 and rounds back
        Tensor h = Tensor.fromArray(CPU, DType.F16, new double[]{1, 2, 3}, 3);
        Tensor s = h.add(h);
        assertEquals(DType.F16, s.dtype());
        close(new double[]{2, 4, 6}, s.toDoubleArray(), 0, 0);
        close(new double[]{3, -3}, Tensor.fromArray(CPU, DType.F32, new double[]{3.9, -3.9}, 2).to(DType.I64).toDoubleArray(), 0, 0);
    }

    @Test void randomStreamsAreSeededAndDistributed() {
        Tensor u1 = Tensor.rand(new Generator(42), CPU, 10000), u2 = Tensor.rand(new Generator(42), CPU, 10000);
        assertArrayEquals(u1.toFloatArray(), u2.toFloatArray());
        double[] n = Tensor.randn(new Generator(7), CPU, 20000).toDoubleArray();
        double m = 0, v = 0;
        for (double x : n) m += x;
        m /= n.length;
        for (double x : n) v += (x - m) * (x - m);
        v /= n.length;
        assertEquals(0, m, 0.05);
        assertEquals(1, v, 0.05);
        Generator g = new Generator(1);
        Tensor a = Tensor.rand(g, CPU, 5), b = Tensor.rand(g, CPU, 5);
        assertTrue(a.toFloatArray()[0] != b.toFloatArray()[0], "a generator advances between draws");
    }

    @Test void resultsAreIdenticalForAnyThreadCount() {
        double[] x = random(1001 * 999, -1, 1);
        double[] first = null;
        for (int threads : new int[]{1, 2, 7}) {
            Device d = new Device(new CpuBackend(threads));
            Tensor tx = Tensor.fromArray(d, DType.F32, x, 1001, 999);
            double[] r = {tx.sum().item(), tx.sum(0, false).sum().item(), tx.matmul(tx.mT().narrow(1, 0, 64)).sum().item(),
                    tx.softmax(1).max().item()};
            if (first == null) first = r;
            else assertArrayEquals(first, r, "threads=" + threads);
        }
    }

    @Test void scopesFreeWhatTheyMade() {
        long before = CPU.backend().allocatedBytes();
        Tensor kept, a, b;
        try (Scope s = Scope.open()) {
            a = Tensor.rand(new Generator(3), CPU, 1000);
            b = a.mul(2).add(1).exp();
            kept = Scope.keep(b.sum());
            assertFalse(a.isClosed() || b.isClosed());
        }
        assertTrue(a.isClosed() && b.isClosed(), "the scope closed what it made");
        assertTrue(kept.item() > 0);
        // the kept scalar moved to this test's outer scope; only it remains
        assertTrue(CPU.backend().allocatedBytes() - before <= 64, "leaked " + (CPU.backend().allocatedBytes() - before));
        Tensor dead;
        try (Scope s = Scope.open()) {
            dead = Tensor.ones(CPU, DType.F32, 4);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> dead.add(1));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test void badInputGetsClearErrors() {
        Tensor a = Tensor.zeros(CPU, DType.F32, 2, 3), b = Tensor.zeros(CPU, DType.F32, 4, 5);
        var e1 = assertThrows(IllegalArgumentException.class, () -> a.add(b));
        assertTrue(e1.getMessage().contains("[2, 3]") && e1.getMessage().contains("[4, 5]") && e1.getMessage().contains("add"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> a.matmul(b));
        assertTrue(e2.getMessage().contains("matmul") && e2.getMessage().contains("[2, 3]"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(CPU, 4).exp());
        assertTrue(e3.getMessage().contains("exp") && e3.getMessage().contains("I64") && e3.getMessage().contains("f32"), e3.getMessage());
        var e4 = assertThrows(IndexOutOfBoundsException.class, () -> a.sum(5, false));
        assertTrue(e4.getMessage().contains("axis 5") && e4.getMessage().contains("-2 to 1"), e4.getMessage());
        var e5 = assertThrows(IndexOutOfBoundsException.class, () -> a.narrow(1, 2, 5));
        assertTrue(e5.getMessage().contains("narrow"), e5.getMessage());
        var e6 = assertThrows(IndexOutOfBoundsException.class,
                () -> a.indexSelect(1, Tensor.fromArray(CPU, new long[]{0, 3}, 2)).toDoubleArray());
        assertTrue(e6.getMessage().contains("3"), e6.getMessage());
        var e7 = assertThrows(IllegalArgumentException.class, () -> a.reshape(7));
        assertTrue(e7.getMessage().contains("[7]") && e7.getMessage().contains("[2, 3]"), e7.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DType.parse("f8"));
    }

    /** A float64-accurate erf for the GELU reference (W. J. Cody via the complementary form). */
    static final class Erf {
        static double erf(double x) {
            // series for small |x|, continued fraction (Lentz) for large
            double ax = Math.abs(x);
            if (ax < 2.5) {
                double sum = x, term = x, x2 = x * x;
                for (int n = 1; n < 200; n++) {
                    term *= -x2 / n;
                    double add = term / (2 * n + 1);
                    sum += add;
                    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
                }
                return 2 / Math.sqrt(Math.PI) * sum;
            }
            // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
            double f = ax;
            for (int n = 60; n >= 1; n--) f = ax + (n / 2.0) / f;
            double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
            return Math.signum(x) * (1 - erfc);
        }
    }
}
