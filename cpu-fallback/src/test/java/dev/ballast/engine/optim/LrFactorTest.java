package dev.ballast.engine.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * {@code stepAsync(coefficient, skip, lrFactor)} is the step with the learning rate times the factor: the same run as
 * an optimizer built with {@code lr * factor} (weights and moments/buffers within float rounding, step counts equal),
 * for SGD with momentum and weight decay, Adam with L2 decay and AdamW, on the fused and the composed path; a factor
 * of 1 leaves the step bit-identical to the plain one.
 */
class LrFactorTest {
    static final Device CPU = Device.cpu();

    static List<Tensor> params(long seed, boolean composed) {
        Generator gen = new Generator(seed);
        List<Tensor> ps = new ArrayList<>(List.of(Tensor.randn(gen, CPU, 5, 3).requiresGrad(true), Tensor.randn(gen, CPU, 3).requiresGrad(true)));
        if (composed) ps.add(Tensor.zeros(CPU, DType.F32, 2).requiresGrad(true)); // no gradient: the composed path
        return ps;
    }

    static void grads(List<Tensor> ps, Generator gen) {
        for (int i = 0; i < 2; i++) ps.get(i).setGrad(Tensor.randn(gen, CPU, ps.get(i).shape()));
    }

    static void compare(BiFunction<List<Tensor>, Double, Optimizer> make, boolean composed, String what) {
        long seed = System.nanoTime();
        System.out.println(what + " seed " + seed);
        try (Scope s = Scope.open()) {
            double lr = 0.05, f = 0.25;
            List<Tensor> a = params(seed, composed), b = params(seed, composed), c = params(seed, composed), d = params(seed, composed);
            Optimizer cut = make.apply(a, lr), reference = make.apply(b, lr * f), one = make.apply(c, lr), plain = make.apply(d, lr);
            Generator ga = new Generator(seed + 1), gb = new Generator(seed + 1), gc = new Generator(seed + 1), gd = new Generator(seed + 1);
            for (int step = 0; step < 6; step++) {
                grads(a, ga);
                grads(b, gb);
                grads(c, gc);
                grads(d, gd);
                cut.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, f));
                reference.stepAsync(null, null);
                one.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, 1));
                plain.stepAsync(null, null);
            }
            for (int i = 0; i < a.size(); i++) {
                float[] got = a.get(i).toFloatArray(), want = b.get(i).toFloatArray();
                for (int k = 0; k < got.length; k++)
                    assertEquals(want[k], got[k], 1e-5 * Math.max(1, Math.abs(want[k])), what + ": param " + i + "[" + k + "] (seed " + seed + ")");
                assertArrayEquals(d.get(i).toFloatArray(), c.get(i).toFloatArray(), what + ": factor 1 is the plain step, bit for bit");
            }
            var sa = cut.stateDict();
            var sb = reference.stateDict();
            assertEquals(sb.keySet(), sa.keySet(), what);
            for (var e : sb.entrySet()) {
                double[] got = sa.get(e.getKey()).to(DType.F64).toDoubleArray(), want = e.getValue().to(DType.F64).toDoubleArray();
                for (int k = 0; k < got.length; k++)
                    assertEquals(want[k], got[k], 1e-5 * Math.max(1, Math.abs(want[k])), what + ": " + e.getKey() + " (seed " + seed + ")");
            }
            assertEquals(6, cut.stepCount());
        }
    }

    @Test void sgdWithMomentumAndDecay() {
        compare((p, lr) -> new SGD(p, lr, 0.9, 0, 1e-2, false), false, "SGD fused");
        compare((p, lr) -> new SGD(p, lr, 0.9, 0, 1e-2, true), true, "SGD Nesterov composed");
    }

    @Test void adamAndAdamW() {
        compare((p, lr) -> new Adam(p, lr, 0.9, 0.999, 1e-8, 1e-2), false, "Adam fused");
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-2), false, "AdamW fused");
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-2), true, "AdamW composed");
    }
}
