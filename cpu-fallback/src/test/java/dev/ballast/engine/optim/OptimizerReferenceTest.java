package dev.ballast.engine.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Optimizer updates against float64 implementations of torch.optim's formulas, on random params and grads. */
class OptimizerReferenceTest {
    static final Device CPU = Device.cpu();
    static final long[][] SHAPES = {{7}, {3, 5}, {2, 2, 3}};
    static final int STEPS = 5;

    /** Random float32-representable values. */
    static double[] randomValues(SplittableRandom r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return v;
    }

    static int numel(long[] s) {
        int n = 1;
        for (long d : s) n *= (int) d;
        return n;
    }

    interface RefStep {
        /** Updates p (and its own state, keyed by param index) from g in float64. */
        void apply(int index, double[] p, double[] g, int t);
    }

    /** Runs {@code opt} and {@code ref} for STEPS steps on the same random grads and compares every value. */
    static void compare(List<Tensor> params, List<double[]> ref, Optimizer opt, RefStep refStep, Double coefficient, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (int t = 1; t <= STEPS; t++) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                double[] g = randomValues(r, (int) p.numel(), 1.0);
                p.setGrad(Tensor.fromArray(CPU, DType.F32, g, p.shape()));
                double[] gEff = g.clone();
                if (coefficient != null) for (int k = 0; k < gEff.length; k++) gEff[k] *= (float) (double) coefficient;
                refStep.apply(i, ref.get(i), gEff, t);
            }
            if (coefficient == null) {
                assertTrue(opt.step());
            } else {
                try (Tensor c = Tensor.scalar(CPU, DType.F32, coefficient)) {
                    assertTrue(opt.step(c, null));
                }
            }
            assertEquals(t, opt.stepCount());
            for (int i = 0; i < params.size(); i++) {
                double[] got = params.get(i).toDoubleArray();
                double[] want = ref.get(i);
                for (int k = 0; k < got.length; k++) {
                    double tol = 2e-6 + 2e-5 * Math.abs(want[k]);
                    if (Math.abs(got[k] - want[k]) > tol)
                        fail("step " + t + " param " + i + " element " + k + ": got " + got[k] + " want " + want[k]);
                }
            }
        }
    }

    static List<Tensor> makeParams(long seed, List<double[]> refOut) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> ps = new ArrayList<>();
        for (long[] s : SHAPES) {
            double[] v = randomValues(r, numel(s), 2.0);
            refOut.add(v.clone());
            ps.add(Tensor.fromArray(CPU, DType.F32, v, s).requiresGrad(true));
        }
        return ps;
    }

    static void sgdCase(double lr, double momentum, double dampening, double wd, boolean nesterov, Double coef) {
        List<double[]> ref = new ArrayList<>();
        List<Tensor> ps = makeParams(11, ref);
        List<double[]> bufs = new ArrayList<>();
        for (double[] p : ref) bufs.add(null);
        try (SGD sgd = new SGD(ps, lr, momentum, dampening, wd, nesterov)) {
            compare(ps, ref, sgd, (i, p, g, t) -> {
                double[] d = g.clone();
                for (int k = 0; k < d.length; k++) d[k] += wd * p[k];
                if (momentum != 0) {
                    double[] buf = bufs.get(i);
                    if (buf == null) {
                        buf = d.clone();
                        bufs.set(i, buf);
                    } else {
                        for (int k = 0; k < d.length; k++) buf[k] = momentum * buf[k] + (1 - dampening) * d[k];
                    }
                    if (nesterov) for (int k = 0; k < d.length; k++) d[k] += momentum * buf[k];
                    else d = buf.clone();
                }
                for (int k = 0; k < d.length; k++) p[k] -= lr * d[k];
            }, coef, 99);
        }
    }

    @Test
    void sgdPlain() { sgdCase(0.1, 0, 0, 0, false, null); }

    @Test
    void sgdMomentumDampeningWeightDecay() { sgdCase(0.05, 0.9, 0.1, 0.01, false, null); }

    @Test
    void sgdNesterov() { sgdCase(0.05, 0.8, 0, 0.003, true, null); }

    @Test
    void sgdWithCoefficient() { sgdCase(0.1, 0.9, 0, 0, false, 0.37); }

    static void adamCase(boolean decoupled, double lr, double b1, double b2, double eps, double wd, Double coef) {
        List<double[]> ref = new ArrayList<>();
        List<Tensor> ps = makeParams(21, ref);
        List<double[]> ms = new ArrayList<>(), vs = new ArrayList<>();
        for (double[] p : ref) {
            ms.add(new double[p.length]);
            vs.add(new double[p.length]);
        }
        Optimizer opt = decoupled ? new AdamW(ps, lr, b1, b2, eps, wd) : new Adam(ps, lr, b1, b2, eps, wd);
        try (opt) {
            compare(ps, ref, opt, (i, p, g0, t) -> {
                double[] g = g0.clone();
                if (decoupled) for (int k = 0; k < p.length; k++) p[k] *= 1 - lr * wd;
                else for (int k = 0; k < p.length; k++) g[k] += wd * p[k];
                double[] m = ms.get(i), v = vs.get(i);
                double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
                for (int k = 0; k < p.length; k++) {
                    m[k] = b1 * m[k] + (1 - b1) * g[k];
                    v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
                    double denom = Math.sqrt(v[k]) / Math.sqrt(bc2) + eps;
                    p[k] -= lr / bc1 * m[k] / denom;
                }
            }, coef, 7);
        }
    }

    @Test
    void adamPlain() { adamCase(false, 1e-2, 0.9, 0.999, 1e-8, 0, null); }

    @Test
    void adamL2WeightDecay() { adamCase(false, 3e-2, 0.8, 0.99, 1e-6, 0.1, null); }

    @Test
    void adamWDecoupled() { adamCase(true, 3e-2, 0.9, 0.95, 1e-8, 0.1, null); }

    @Test
    void adamWWithCoefficient() { adamCase(true, 1e-2, 0.9, 0.999, 1e-8, 0.01, 0.25); }

    @Test
    void skipFlagLeavesEverythingBitIdentical() {
        List<double[]> ref = new ArrayList<>();
        List<Tensor> ps = makeParams(5, ref);
        try (AdamW opt = new AdamW(ps, 0.1)) {
            SplittableRandom r = new SplittableRandom(3);
            for (Tensor p : ps) p.setGrad(Tensor.fromArray(CPU, DType.F32, randomValues(r, (int) p.numel(), 1), p.shape()));
            opt.step();
            List<float[]> before = new ArrayList<>();
            for (Tensor p : ps) before.add(p.toFloatArray());
            List<float[]> stateBefore = new ArrayList<>();
            for (Tensor s : opt.stateDict().values()) stateBefore.add(s.toFloatArray());
            try (Tensor skip = Tensor.scalar(CPU, DType.F32, 1); Tensor coef = Tensor.scalar(CPU, DType.F32, 0.5)) {
                for (Tensor p : ps) p.setGrad(Tensor.fromArray(CPU, DType.F32, randomValues(r, (int) p.numel(), 1), p.shape()));
                assertFalse(opt.step(coef, skip));
                assertFalse(opt.step(null, skip));
            }
            assertEquals(1, opt.stepCount(), "skipped steps must not advance the step count");
            for (int i = 0; i < ps.size(); i++) assertBitEqual(before.get(i), ps.get(i).toFloatArray());
            int j = 0;
            for (Tensor s : opt.stateDict().values()) assertBitEqual(stateBefore.get(j++), s.toFloatArray());
            try (Tensor noSkip = Tensor.scalar(CPU, DType.F32, 0)) {
                assertTrue(opt.step(null, noSkip));
            }
            assertEquals(2, opt.stepCount());
            assertFalse(java.util.Arrays.equals(before.get(0), ps.get(0).toFloatArray()), "a real step must move the weights");
        }
    }

    static void assertBitEqual(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++)
            assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "element " + i + ": " + a[i] + " vs " + b[i]);
    }

    @Test
    void paramGroupsUseTheirOwnLrAndNullGradsAreLeftAlone() {
        Tensor a = Tensor.fromArray(CPU, DType.F32, new double[]{1, 2}, 2).requiresGrad(true);
        Tensor b = Tensor.fromArray(CPU, DType.F32, new double[]{3, 4}, 2).requiresGrad(true);
        Tensor c = Tensor.fromArray(CPU, DType.F32, new double[]{5, 6}, 2).requiresGrad(true);
        try (SGD sgd = new SGD(List.of(new ParamGroup(List.of(a), 0.5, 0), new ParamGroup(List.of(b, c), 0.25, 0.5)), 0, 0, false)) {
            a.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{1, -1}, 2));
            b.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{2, 2}, 2));
            sgd.step();
            assertArrayEquals(new double[]{0.5, 2.5}, a.toDoubleArray(), 1e-7);
            // b: g + wd*p = (2 + 1.5, 2 + 2) -> 3 - 0.875, 4 - 1
            assertArrayEquals(new double[]{2.125, 3.0}, b.toDoubleArray(), 1e-7);
            assertArrayEquals(new double[]{5, 6}, c.toDoubleArray(), 0);
            assertNull(c.grad());
            sgd.zeroGrad();
            assertNull(a.grad());
            assertEquals("SGD", sgd.hyperparameters().get("type"));
            assertEquals("0.25", sgd.hyperparameters().get("group.1.lr"));
        }
    }
}
