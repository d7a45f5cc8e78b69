package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Loss values against float64 host references with PyTorch's semantics. */
class LossesTest {
    private final Random rng = new Random(99);

    private Tensor t(double[] v, long... shape) { return Tensor.fromArray(Device.cpu(), DType.F64, v, shape); }

    private double[] gauss(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = scale * rng.nextGaussian();
        return v;
    }

    /** PyTorch's cross_entropy for [N, C] logits: mean over non-ignored rows of (1-e) nll + e/C * sum_c -log p_c. */
    static double hostCrossEntropy(double[] logits, long[] target, int c, long ignore, double eps) {
        double sum = 0;
        int count = 0;
        for (int n = 0; n < target.length; n++) {
            if (target[n] == ignore) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) max = Math.max(max, logits[n * c + k]);
            double z = 0;
            for (int k = 0; k < c; k++) z += Math.exp(logits[n * c + k] - max);
            double lse = max + Math.log(z);
            double nll = lse - logits[n * c + (int) target[n]];
            double smooth = 0;
            for (int k = 0; k < c; k++) smooth += lse - logits[n * c + k];
            sum += (1 - eps) * nll + eps / c * smooth;
            count++;
        }
        return sum / count;
    }

    @Test
    void crossEntropyMatchesHost() {
        double[] logits = gauss(6 * 5, 2);
        long[] target = {4, 0, -100, 2, 2, 1};
        Tensor lt = t(logits, 6, 5), tt = Tensor.fromArray(Device.cpu(), target, 6);
        assertEquals(hostCrossEntropy(logits, target, 5, -100, 0), Losses.crossEntropy(lt, tt).item(), 1e-12);
        assertEquals(hostCrossEntropy(logits, target, 5, -100, 0.1), Losses.crossEntropy(lt, tt, -100, 0.1).item(), 1e-12);
        long[] clipped = {4, 0, 0, 2, 2, 1};
        assertEquals(hostCrossEntropy(logits, clipped, 5, 2, 0.3), Losses.crossEntropy(lt, tt.maximum(0.0), 2, 0.3).item(), 1e-12,
                "another ignore index (the -100 row became class 0)");
        Tensor i32 = tt.to(DType.I32);
        assertEquals(hostCrossEntropy(logits, target, 5, -100, 0), Losses.crossEntropy(lt, i32).item(), 1e-12, "i32 targets");
        // every row ignored: 0/0 as in PyTorch
        Tensor allIgnored = Tensor.fromArray(Device.cpu(), new long[]{-100, -100}, 2);
        assertTrue(Double.isNaN(Losses.crossEntropy(t(gauss(4, 1), 2, 2), allIgnored).item()));
    }

    @Test
    void crossEntropyOverExtraDimsMovesClassesLast() {
        // [N, C, L] with target [N, L] equals the [N*L, C] case after moving C last
        int n = 2, c = 3, l = 4;
        double[] logits = gauss(n * c * l, 1.5);
        long[] target = {0, 2, 1, -100, 1, 1, 0, 2};
        double[] flat = new double[n * l * c];
        for (int a = 0; a < n; a++) for (int k = 0; k < c; k++) for (int j = 0; j < l; j++) flat[(a * l + j) * c + k] = logits[(a * c + k) * l + j];
        double want = hostCrossEntropy(flat, target, c, -100, 0.2);
        double got = Losses.crossEntropy(t(logits, n, c, l), Tensor.fromArray(Device.cpu(), target, n, l), -100, 0.2).item();
        assertEquals(want, got, 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Losses.crossEntropy(t(logits, n, c, l), Tensor.fromArray(Device.cpu(), target, 8)));
        assertTrue(e.getMessage().contains("[2, 3, 4]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(t(logits, n * l, c), t(new double[8], 8)), "float targets");
    }

    @Test
    void binaryCrossEntropyWithLogitsIsStable() {
        double[] x = {-60, -3, -0.5, 0.1, 2, 80};
        double[] y = {0, 1, 0.3, 1, 0, 1};
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            // -[y log s(x) + (1-y) log(1 - s(x))] written with log1p for the reference
            sum += Math.max(x[i], 0) - x[i] * y[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
        }
        double got = Losses.binaryCrossEntropyWithLogits(t(x, 6), t(y, 6)).item();
        assertEquals(sum / 6, got, 1e-12);
        assertTrue(Double.isFinite(got));
        // a direct check of one value: x = 0 gives log 2
        assertEquals(Math.log(2), Losses.binaryCrossEntropyWithLogits(t(new double[]{0}, 1), t(new double[]{1}, 1)).item(), 1e-15);
    }

    @Test
    void mseIsTheMeanOfSquares() {
        double[] a = gauss(12, 1), b = gauss(12, 1);
        double s = 0;
        for (int i = 0; i < 12; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        assertEquals(s / 12, Losses.mse(t(a, 3, 4), t(b, 3, 4)).item(), 1e-14);
        assertThrows(IllegalArgumentException.class, () -> Losses.mse(t(a, 3, 4), t(b, 12)));
    }
}
