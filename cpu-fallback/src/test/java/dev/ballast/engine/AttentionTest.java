package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.autograd.GradMode;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused self-attention ({@code Backend.fusedAttention()}, CPU) against float64 finite differences and against the
 * same math composed from public ops (narrowed heads, product, softmax, product), forward and gradient, with shapes
 * whose time and head sizes are not multiples of any vector width, causal and not.
 */
class AttentionTest {

    /** The composed reference: heads narrowed and permuted, scaled scores, -inf-free causal mask by a where-like add. */
    private static Tensor composed(Tensor qkv, int heads, boolean causal) {
        long b = qkv.size(0), t = qkv.size(1), e = qkv.size(2) / 3, dh = e / heads;
        Tensor q = qkv.narrow(2, 0, e).reshape(b, t, heads, dh).permute(0, 2, 1, 3);
        Tensor k = qkv.narrow(2, e, e).reshape(b, t, heads, dh).permute(0, 2, 1, 3);
        Tensor v = qkv.narrow(2, 2 * e, e).reshape(b, t, heads, dh).permute(0, 2, 1, 3);
        Tensor scores = q.matmul(k.mT()).mul(1 / Math.sqrt(dh));
        if (causal) {
            double[] m = new double[(int) (t * t)];
            for (int i = 0; i < t; i++) for (int j = i + 1; j < t; j++) m[(int) (i * t + j)] = -1e30;
            scores = scores.add(Tensor.fromArray(qkv.device(), qkv.dtype(), m, t, t));
        }
        return scores.softmax(-1).matmul(v).permute(0, 2, 1, 3).reshape(b, t, e);
    }

    private static Tensor mask(Tensor qkv) {
        throw new AssertionError("the CPU backend must take the fused path for " + qkv.dtype());
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (boolean causal : new boolean[]{false, true}) {
            long seed = causal ? 71 : 70;
            System.out.println("AttentionTest.gradientsMatchFiniteDifferences seed " + seed);
            Random rng = new Random(seed);
            Tensor qkv = GradCheck.normal(rng, 2, 5, 3 * 3 * 3); // batch 2, time 5, 3 heads of 3
            GradCheck.of("selfAttention causal=" + causal, () -> Attention.selfAttention(qkv, 3, causal, () -> mask(qkv)), qkv)
                    .maxPerTensor(270).run();
        }
    }

    @Test
    void fusedMatchesComposedOnF32AndF64() {
        long seed = 20261130;
        System.out.println("AttentionTest.fusedMatchesComposedOnF32AndF64 seed " + seed);
        Random rng = new Random(seed);
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            for (boolean causal : new boolean[]{false, true}) {
                int b = 3, t = 17, heads = 4, dh = 6;
                double[] x = new double[b * t * 3 * heads * dh], w = new double[b * t * heads * dh];
                for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
                for (int i = 0; i < w.length; i++) w[i] = rng.nextGaussian();
                Tensor a = Tensor.fromArray(Device.cpu(), dtype, x, b, t, 3 * heads * dh).requiresGrad(true);
                Tensor c = Tensor.fromArray(Device.cpu(), dtype, x, b, t, 3 * heads * dh).requiresGrad(true);
                Tensor weights = Tensor.fromArray(Device.cpu(), dtype, w, b, t, heads * dh);
                Tensor fused = Attention.selfAttention(a, heads, causal, () -> mask(a));
                Tensor ref = composed(c, heads, causal);
                fused.mul(weights).sum().backward();
                ref.mul(weights).sum().backward();
                double tol = dtype == DType.F32 ? 2e-6 : 1e-13;
                assertClose(ref.toDoubleArray(), fused.toDoubleArray(), tol, dtype + " causal=" + causal + " output");
                assertClose(c.grad().toDoubleArray(), a.grad().toDoubleArray(), tol * 10, dtype + " causal=" + causal + " gradient");
            }
        }
    }

    @Test
    void causalRowsIgnoreLaterKeys() {
        // changing the last position's k and v must leave every earlier output (and the first row's weights) untouched
        Random rng = new Random(5);
        int b = 1, t = 6, heads = 2, dh = 4, e = heads * dh;
        double[] x = new double[b * t * 3 * e];
        for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
        double[] y = x.clone();
        for (int j = e; j < 3 * e; j++) y[(t - 1) * 3 * e + j] += 3.0;
        try (GradMode.Guard g = GradMode.noGrad()) {
            double[] ox = Attention.selfAttention(Tensor.fromArray(Device.cpu(), DType.F32, x, b, t, 3 * e), heads, true, null).toDoubleArray();
            double[] oy = Attention.selfAttention(Tensor.fromArray(Device.cpu(), DType.F32, y, b, t, 3 * e), heads, true, null).toDoubleArray();
            for (int i = 0; i < (t - 1) * e; i++) assertEquals(ox[i], oy[i], 0.0, "output " + i + " saw a later key");
            boolean changed = false;
            for (int i = (t - 1) * e; i < t * e; i++) changed |= ox[i] != oy[i];
            assertTrue(changed, "the last position must see its own key and value");
        }
    }

    @Test
    void badShapesAreRefusedWithTheRule() {
        Tensor qkv = Tensor.fromArray(Device.cpu(), DType.F32, new double[2 * 3 * 10], 2, 3, 10);
        IllegalArgumentException ex = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Attention.selfAttention(qkv, 2, false, null));
        assertTrue(ex.getMessage().contains("3 * E") && ex.getMessage().contains("[2, 3, 10]"), ex.getMessage());
    }

    private static void assertClose(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol * Math.max(1, Math.abs(expected[i])),
                    what + " [" + i + "]: expected " + expected[i] + " got " + actual[i]);
    }
}
