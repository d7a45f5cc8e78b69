package dev.ballast.engine.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Optimizer state dicts: names, round trip into a fresh optimizer, and validation before any change. */
class StateDictTest {
    static final Device CPU = Device.cpu();

    static List<Tensor> params(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> ps = new ArrayList<>();
        for (long[] s : new long[][]{{4}, {2, 3}}) {
            int n = (int) (s.length == 1 ? s[0] : s[0] * s[1]);
            ps.add(Tensor.fromArray(CPU, DType.F32, OptimizerReferenceTest.randomValues(r, n, 1), s).requiresGrad(true));
        }
        return ps;
    }

    static void grads(List<Tensor> ps, SplittableRandom r) {
        for (Tensor p : ps) p.setGrad(Tensor.fromArray(CPU, DType.F32, OptimizerReferenceTest.randomValues(r, (int) p.numel(), 1), p.shape()));
    }

    @Test
    void adamStateRoundTripsIntoAFreshOptimizer() {
        List<Tensor> pa = params(1), pb = params(1);
        try (Adam a = new Adam(pa, 0.01, 0.9, 0.99, 1e-8, 0.01); Adam b = new Adam(pb, 0.01, 0.9, 0.99, 1e-8, 0.01)) {
            SplittableRandom r = new SplittableRandom(2);
            for (int i = 0; i < 3; i++) {
                grads(pa, r);
                a.step();
            }
            Map<String, Tensor> sd = a.stateDict();
            assertTrue(sd.keySet().containsAll(List.of("step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step",
                    "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.step")), sd.keySet().toString());
            assertEquals(3, sd.get("step").item());
            try (dev.ballast.engine.autograd.GradMode.Guard ng = dev.ballast.engine.autograd.GradMode.noGrad()) {
                for (int i = 0; i < pa.size(); i++) pb.get(i).copyFrom(pa.get(i));
            }
            b.loadStateDict(sd);
            assertEquals(3, b.stepCount());
            SplittableRandom r1 = new SplittableRandom(9), r2 = new SplittableRandom(9);
            grads(pa, r1);
            grads(pb, r2);
            a.step();
            b.step();
            for (int i = 0; i < pa.size(); i++)
                OptimizerReferenceTest.assertBitEqual(pa.get(i).toFloatArray(), pb.get(i).toFloatArray());
        }
    }

    @Test
    void sgdMomentumBufferRoundTrips() {
        List<Tensor> pa = params(3);
        try (SGD a = new SGD(pa, 0.1, 0.9, 0, 0, false); SGD b = new SGD(params(3), 0.1, 0.9, 0, 0, false)) {
            assertEquals(List.of("step"), List.copyOf(a.stateDict().keySet()), "no momentum buffer before the first step");
            grads(pa, new SplittableRandom(4));
            a.step();
            Map<String, Tensor> sd = a.stateDict();
            assertEquals(List.of("step", "state.0.momentum_buffer", "state.1.momentum_buffer"), List.copyOf(sd.keySet()));
            b.loadStateDict(sd);
            OptimizerReferenceTest.assertBitEqual(sd.get("state.1.momentum_buffer").toFloatArray(),
                    b.stateDict().get("state.1.momentum_buffer").toFloatArray());
        }
    }

    @Test
    void badStateDictsAreRejectedBeforeAnyChange() {
        List<Tensor> ps = params(5);
        try (Adam a = new Adam(ps, 0.01)) {
            grads(ps, new SplittableRandom(6));
            a.step();
            Map<String, Tensor> good = a.stateDict();
            float[] mBefore = good.get("state.0.exp_avg").toFloatArray();

            Map<String, Tensor> wrongShape = new LinkedHashMap<>(good);
            wrongShape.put("state.1.exp_avg", Tensor.zeros(CPU, DType.F32, 3, 2));
            var e = assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(wrongShape));
            assertTrue(e.getMessage().contains("state.1.exp_avg") && e.getMessage().contains("[3, 2]"), e.getMessage());

            Map<String, Tensor> unknown = new LinkedHashMap<>(good);
            unknown.put("state.0.momentum_buffer", Tensor.zeros(CPU, DType.F32, 4));
            e = assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(unknown));
            assertTrue(e.getMessage().contains("momentum_buffer"), e.getMessage());

            Map<String, Tensor> badIndex = new LinkedHashMap<>(good);
            badIndex.put("state.7.exp_avg", Tensor.zeros(CPU, DType.F32, 4));
            e = assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(badIndex));
            assertTrue(e.getMessage().contains("parameter 7"), e.getMessage());

            Map<String, Tensor> noStep = new LinkedHashMap<>(good);
            noStep.remove("step");
            assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(noStep));

            assertEquals(1, a.stepCount());
            OptimizerReferenceTest.assertBitEqual(mBefore, a.stateDict().get("state.0.exp_avg").toFloatArray());
        }
    }

    @Test
    void hyperparameterMismatchIsNamed() {
        List<Tensor> ps = params(7);
        try (Adam a = new Adam(ps, 0.01, 0.9, 0.999, 1e-8, 0); AdamW w = new AdamW(ps, 0.01)) {
            var e = assertThrows(IllegalArgumentException.class, () -> a.validateHyperparameters(w.hyperparameters()));
            assertTrue(e.getMessage().contains("type"), e.getMessage());
        }
    }

    @Test
    void invalidHyperparametersAreRejected() {
        List<Tensor> ps = params(8);
        assertThrows(IllegalArgumentException.class, () -> new SGD(ps, -1));
        assertThrows(IllegalArgumentException.class, () -> new SGD(ps, 0.1, 0, 0, 0, true));
        assertThrows(IllegalArgumentException.class, () -> new Adam(ps, 0.1, 1.0, 0.999, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> new Adam(List.of(ps.get(0), ps.get(0)), 0.1));
    }
}
