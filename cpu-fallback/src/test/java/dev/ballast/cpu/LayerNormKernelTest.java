package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.CPU;
import static dev.ballast.cpu.TestSupport.empty;
import static dev.ballast.cpu.TestSupport.read;
import static dev.ballast.cpu.TestSupport.representable;
import static dev.ballast.cpu.TestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedNorms;
import dev.ballast.engine.backend.Strided;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused layer norm ({@link FusedNorms}) in F32 against a float64 reference computed from the definition, forward
 * (output and row statistics) and backward (input, weight and bias gradients), for row lengths that are and are not
 * whole vectors and more rows than one task holds. The F64 path is checked against finite differences through the
 * LayerNorm module (LayerGradCheckTest).
 */
class LayerNormKernelTest {

    @Test void f32LayerNormAndItsGradientsMatchTheFloat64Definition() {
        long seed = 20261130L;
        System.out.println("LayerNormKernelTest seed " + seed);
        Random rnd = new Random(seed);
        FusedNorms f = CPU.fusedNorms().orElseThrow();
        double eps = 1e-5;
        for (int n : new int[] {1, 7, 64, 100, 256}) {
            int rows = 70_000 / n + 3; // several tasks
            double[] x = representable(DType.F32, gauss(rnd, rows * n, 2, 0.5)), g = representable(DType.F32, gauss(rnd, rows * n, 1, 0));
            double[] w = representable(DType.F32, gauss(rnd, n, 0.3, 1)), b = representable(DType.F32, gauss(rnd, n, 0.3, 0));
            Strided xs = tensor(DType.F32, x, rows, n), ws = tensor(DType.F32, w, n), bs = tensor(DType.F32, b, n);
            Strided y = empty(DType.F32, rows, n), mean = empty(DType.F64, rows), rstd = empty(DType.F64, rows);
            f.layerNorm(xs, ws, bs, rows, n, eps, y, mean, rstd);
            Strided dx = empty(DType.F32, rows, n), dw = empty(DType.F32, n), db = empty(DType.F32, n);
            f.layerNormBackward(xs, ws, mean, rstd, tensor(DType.F32, g, rows, n), rows, n, dx, dw, db);
            double[] gy = read(y), gm = read(mean), gr = read(rstd), gdx = read(dx), gdw = read(dw), gdb = read(db);
            double[] rdw = new double[n], rdb = new double[n];
            for (int r = 0; r < rows; r++) {
                double mu = 0, var = 0;
                for (int i = 0; i < n; i++) mu += x[r * n + i];
                mu /= n;
                for (int i = 0; i < n; i++) var += (x[r * n + i] - mu) * (x[r * n + i] - mu);
                double rs = 1 / Math.sqrt(var / n + eps), a = 0, c = 0;
                assertEquals(mu, gm[r], 1e-12 * (1 + Math.abs(mu)), "mean, n=" + n);
                assertEquals(rs, gr[r], 1e-10 * rs, "rstd, n=" + n);
                for (int i = 0; i < n; i++) {
                    int k = r * n + i;
                    double xh = (x[k] - mu) * rs;
                    assertEquals(xh * w[i] + b[i], gy[k], 2e-6 * (1 + Math.abs(xh * w[i] + b[i])), "y, n=" + n + " row " + r);
                    a += g[k] * w[i];
                    c += g[k] * w[i] * xh;
                    rdw[i] += g[k] * xh;
                    rdb[i] += g[k];
                }
                a /= n;
                c /= n;
                for (int i = 0; i < n; i++) {
                    int k = r * n + i;
                    double xh = (x[k] - mu) * rs, ref = rs * (g[k] * w[i] - a - xh * c);
                    assertEquals(ref, gdx[k], 2e-5 * rs, "dx, n=" + n + " row " + r + " at " + i);
                }
            }
            for (int i = 0; i < n; i++) {
                assertEquals(rdw[i], gdw[i], 1e-6 * Math.sqrt(rows) * 4, "dweight, n=" + n + " at " + i);
                assertEquals(rdb[i], gdb[i], 1e-6 * Math.sqrt(rows) * 4, "dbias, n=" + n + " at " + i);
            }
        }
    }

    @Test void withoutAffineAndWithOnlySomeGradients() {
        int rows = 5, n = 9;
        double[] x = representable(DType.F32, gauss(new Random(3), rows * n, 1, 0));
        FusedNorms f = CPU.fusedNorms().orElseThrow();
        Strided xs = tensor(DType.F32, x, rows, n), y = empty(DType.F32, rows, n), mean = empty(DType.F64, rows), rstd = empty(DType.F64, rows);
        f.layerNorm(xs, null, null, rows, n, 1e-5, y, mean, rstd);
        double[] gy = read(y);
        for (int r = 0; r < rows; r++) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++) { s += gy[r * n + i]; ss += gy[r * n + i] * gy[r * n + i]; }
            assertEquals(0, s, 1e-5, "each row has mean 0");
            assertEquals(n, ss, 1e-3, "and variance 1 (eps aside)");
        }
        Strided db = empty(DType.F32, n);
        f.layerNormBackward(xs, null, mean, rstd, tensor(DType.F32, x, rows, n), rows, n, null, null, db); // bias gradient only
        double[] gdb = read(db);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int r = 0; r < rows; r++) s += x[r * n + i];
            assertEquals(s, gdb[i], 1e-5);
        }
    }

    @Test void badOperandsAreRejectedWithTheReason() {
        FusedNorms f = CPU.fusedNorms().orElseThrow();
        Strided x = empty(DType.F32, 4, 6), y = empty(DType.F32, 4, 6), mean = empty(DType.F64, 4), rstd = empty(DType.F64, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> f.layerNorm(x, empty(DType.F64, 6), null, 4, 6, 1e-5, y, mean, rstd));
        assertTrue(e.getMessage().contains("share x's dtype"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> f.layerNorm(x, null, null, 4, 6, 1e-5, y, empty(DType.F32, 4), rstd));
        assertTrue(e.getMessage().contains("F64"), e.getMessage());
        Strided transposed = x.withLayout(new long[] {6, 4}, new long[] {1, 6});
        e = assertThrows(IllegalArgumentException.class, () -> f.layerNorm(transposed, null, null, 6, 4, 1e-5, y, mean, rstd));
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
    }

    private static double[] gauss(Random r, int n, double sd, double mean) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = mean + sd * r.nextGaussian();
        return v;
    }
}
