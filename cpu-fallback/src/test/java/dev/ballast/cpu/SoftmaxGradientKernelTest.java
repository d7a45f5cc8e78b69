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
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused softmax and log-softmax gradients ({@link FusedActivations#softmaxBackward}) against float64 references
 * computed from their definitions, in F32 (the vector rows) and F64, for row lengths that are and are not whole
 * vectors; the forward outputs come from the backend's own softmax, rows include masked (-1e9) logits.
 */
class SoftmaxGradientKernelTest {

    @Test void softmaxAndLogSoftmaxGradientsMatchTheFloat64Definition() {
        long seed = 20261130L;
        System.out.println("SoftmaxGradientKernelTest seed " + seed);
        Random rnd = new Random(seed);
        FusedActivations f = CPU.fusedActivations().orElseThrow();
        for (DType t : new DType[] {DType.F32, DType.F64})
            for (int n : new int[] {1, 7, 17, 128, 1000}) {
                int rows = 37;
                double[] x = new double[rows * n], g = new double[rows * n];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (i % n) > n / 2 + 1 && (i / n) % 3 == 0 ? -1e9 : rnd.nextGaussian() * 3; // some rows causally masked
                    g[i] = rnd.nextGaussian();
                }
                x = representable(t, x);
                g = representable(t, g);
                for (boolean log : new boolean[] {false, true}) {
                    Strided y = empty(t, rows, n), dx = empty(t, rows, n);
                    CPU.softmax(tensor(t, x, rows, n), rows, n, log, y);
                    double[] yv = read(y);
                    f.softmaxBackward(y, tensor(t, g, rows, n), rows, n, log, dx);
                    double[] got = read(dx);
                    for (int r = 0; r < rows; r++) {
                        double s = 0, scale = 0;
                        for (int i = 0; i < n; i++) s += log ? g[r * n + i] : g[r * n + i] * yv[r * n + i];
                        for (int i = 0; i < n; i++) scale = Math.max(scale, Math.abs(g[r * n + i]));
                        for (int i = 0; i < n; i++) {
                            int k = r * n + i;
                            double ref = log ? g[k] - Math.exp(yv[k]) * s : yv[k] * (g[k] - s);
                            // the terms are of the size of g; their difference may cancel, so the bound is relative to g
                            double tol = (t == DType.F32 ? 1e-6 : 1e-13) * Math.max(scale, 1e-30) * (1 + Math.abs(s));
                            assertEquals(ref, got[k], tol, t + " n=" + n + (log ? " log-softmax" : " softmax") + " row " + r + " at " + i);
                        }
                    }
                }
            }
    }

    @Test void softmaxGradientTakesContiguousRowsOfOneDtype() {
        FusedActivations f = CPU.fusedActivations().orElseThrow();
        Strided y = empty(DType.F32, 4, 6), g = empty(DType.F64, 4, 6), out = empty(DType.F32, 4, 6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.softmaxBackward(y, g, 4, 6, false, out));
        assertTrue(e.getMessage().contains("one floating dtype"), e.getMessage());
        Strided transposed = y.withLayout(new long[] {6, 4}, new long[] {1, 6});
        e = assertThrows(IllegalArgumentException.class, () -> f.softmaxBackward(transposed, transposed, 6, 4, false, out));
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
    }
}
