package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Gemm;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.random.Philox;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftmaxRandomMatmulTest {
    private final Random rnd = new Random(555);

    @Test
    void softmaxAndLogSoftmaxMatchReference() {
        int rows = 300, n = 517;
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            double[] x = representable(t, uniform(rnd, rows * n, -30, 30));
            x[5] = 500;   // a large logit: the stable form must not overflow
            Strided in = tensor(t, x, rows, n), p = empty(t, rows, n), lp = empty(t, rows, n);
            CPU.softmax(in, rows, n, false, p);
            CPU.softmax(in, rows, n, true, lp);
            double[] gp = read(p), glp = read(lp);
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int i = 0; i < n; i++) max = Math.max(max, x[r * n + i]);
                for (int i = 0; i < n; i++) sum += Math.exp(x[r * n + i] - max);
                for (int i = 0; i < n; i++) {
                    double ref = Math.exp(x[r * n + i] - max) / sum, lref = x[r * n + i] - max - Math.log(sum);
                    assertTrue(ulps(t, gp[r * n + i], ref) <= 2, t + " softmax " + gp[r * n + i] + " vs " + ref);
                    assertEquals(lref, glp[r * n + i], 1e-12 * Math.abs(lref) + (t == DType.F32 ? Math.ulp((float) lref) : 1e-13), t + " log-softmax");
                }
            }
        }
        Strided nan = tensor(DType.F32, new double[] {1, Double.NaN, 2, 3, 4, 5}, 2, 3), out = empty(DType.F32, 2, 3);
        CPU.softmax(nan, 2, 3, false, out);
        double[] g = read(out);
        assertTrue(Double.isNaN(g[0]) && Double.isNaN(g[2]), "a NaN poisons its row");
        assertFalse(Double.isNaN(g[3]), "and only its row");
    }

    @Test
    void randomFollowsThePhiloxStream() {
        long seed = 0xDEADBEEFL, offset = 1003;
        int n = 100_001;
        for (RandomKind kind : RandomKind.values()) {
            Strided f = empty(DType.F32, n), d = empty(DType.F64, n);
            CPU.random(kind, seed, offset, f);
            CPU.random(kind, seed, offset, d);
            double[] gf = read(f), gd = read(d);
            for (int i = 0; i < n; i += 97) {
                float ref = kind == RandomKind.UNIFORM ? Philox.uniform(seed, offset + i) : Philox.normal(seed, offset + i);
                assertEquals(ref, gf[i], 0.0, kind + " f32 at " + i);
            }
            assertArrayEquals(gf, gd, 0.0, "f64 receives the same float values, widened");
            double mean = 0, var = 0;
            for (double v : gf) mean += v;
            mean /= n;
            for (double v : gf) var += (v - mean) * (v - mean);
            var /= n;
            if (kind == RandomKind.UNIFORM) { assertEquals(0.5, mean, 0.005); assertEquals(1.0 / 12, var, 0.002); }
            else { assertEquals(0.0, mean, 0.015); assertEquals(1.0, var, 0.02); }
        }
        // the same stream from any thread count
        CpuBackend seven = new CpuBackend(7);
        Strided a = empty(seven, DType.F32, n), b = empty(DType.F32, n);
        seven.random(RandomKind.NORMAL, 9, 0, a);
        CPU.random(RandomKind.NORMAL, 9, 0, b);
        assertArrayEquals(read(a), read(b), 0.0);
        seven.pool().shutdown();
        assertThrows(IllegalArgumentException.class, () -> CPU.random(RandomKind.UNIFORM, 1, 0, empty(DType.I32, 4)));
    }

    /** Exercises CpuBackend.matmul's plumbing (strides, batch broadcast, half widening) against a float64 reference. */
    @Test
    void matmulWithTransposedAndBroadcastOperands() {
        int batch = 3, m = 17, n = 23, k = 31;
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            double[] av = representable(t, uniform(rnd, batch * m * k, -1, 1));
            double[] bv = representable(t, uniform(rnd, k * n, -1, 1));
            Strided a = tensor(t, av, batch, m, k);
            Strided b = tensor(t, bv, n, k);    // stored [n, k], used transposed and shared by every batch
            Strided c = empty(t, batch, m, n);
            CPU.matmul(new Gemm(batch, m, n, k, a.storage(), 0, (long) m * k, k, 1, b.storage(), 0, 0, 1, k, c.storage(), 0, (long) m * n, n, t));
            double[] got = read(c);
            for (int bi = 0; bi < batch; bi++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) s += av[(bi * m + i) * k + p] * bv[j * k + p];
                        double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-5 : Math.abs(s) * 0x1p-8 + 1e-3;   // bf16 keeps 8 bits
                        assertEquals(s, got[(bi * m + i) * n + j], tol, t + " matmul");
                    }
        }
    }
}
