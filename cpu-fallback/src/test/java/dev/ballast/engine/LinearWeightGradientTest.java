package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The gradient of a transposed weight in {@code x @ W^T} (a linear layer) is computed as {@code (g^T x)} directly in
 * the weight's layout; its bits must equal those of {@code (x^T g)^T}, the product autograd took before (every element
 * one chain of fused multiply-adds over the batch rows in increasing order), on the small-product and the blocked paths.
 */
class LinearWeightGradientTest {

    @Test void transposedWeightGradientHasTheBitsOfTheTransposedProduct() {
        long seed = 20261130L;
        System.out.println("LinearWeightGradientTest seed " + seed);
        Random rnd = new Random(seed);
        Device cpu = Device.cpu();
        for (int[] s : new int[][] {{5, 7, 3}, {300, 50, 23}, {256, 130, 70}}) { // batch, in, out
            int b = s[0], in = s[1], out = s[2];
            float[] xv = gaussian(rnd, b * in), wv = gaussian(rnd, out * in), rv = gaussian(rnd, b * out);
            try (Scope scope = Scope.open()) {
                Tensor x = Tensor.fromArray(cpu, xv, b, in), r = Tensor.fromArray(cpu, rv, b, out);
                Tensor w = Tensor.fromArray(cpu, wv, out, in).requiresGrad(true);
                x.matmul(w.mT()).mul(r).sum().backward(); // d(sum)/dy = r
                float[] want;
                try (var ng = dev.ballast.engine.autograd.GradMode.noGrad()) {
                    want = x.mT().matmul(r).mT().contiguous().toFloatArray();
                }
                float[] got = w.grad().toFloatArray();
                assertEquals(out * in, got.length);
                int[] wantBits = new int[want.length], gotBits = new int[got.length];
                for (int i = 0; i < want.length; i++) { wantBits[i] = Float.floatToRawIntBits(want[i]); gotBits[i] = Float.floatToRawIntBits(got[i]); }
                assertArrayEquals(wantBits, gotBits, "batch " + b + ", in " + in + ", out " + out);
            }
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }
}
