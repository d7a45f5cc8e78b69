package dev.ballast.stability.guard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.SGD;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Policy parsing, the spike detector, and the guard's actions on a real optimizer (rollback restores state bit-exactly). */
class GuardTest {
    static final Device CPU = Device.cpu();

    @Test
    void parsesPoliciesAndNamesWhatIsAllowed() {
        assertEquals(List.of(new GuardPolicy.Rollback(), new GuardPolicy.Backoff(0.5, 100)), GuardPolicy.parse("rollback, backoff:0.5:100"));
        assertEquals(List.of(new GuardPolicy.Backoff(0.5, 100)), GuardPolicy.parse("backoff"));
        for (String bad : new String[] {"", "explode", "backoff:2:10", "backoff:x:1", "skip,skip", "skip:3"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> GuardPolicy.parse(bad), bad);
            assertTrue(e.getMessage().contains("allowed") || e.getMessage().contains("twice") || e.getMessage().contains("must be"), e.getMessage());
        }
    }

    @Test
    void spikeDetectorFlagsOutliersAndIgnoresNoise() {
        SpikeDetector d = new SpikeDetector(0.9, 6, 10);
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 200; i++) assertFalse(d.observe(1 + 0.05 * r.nextGaussian()), "noise at " + i);
        assertTrue(d.observe(3), "a 40-sigma value is a spike");
        assertFalse(d.observe(1.02), "statistics were not poisoned by the spike");
    }

    private Map<String, Tensor> params(Generator g) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", Tensor.randn(g, CPU, 4, 3).requiresGrad(true));
        m.put("b", Tensor.randn(g, CPU, 3).requiresGrad(true));
        return m;
    }

    private void grads(Map<String, Tensor> m, Generator g) {
        for (Tensor p : m.values()) p.setGrad(Tensor.randn(g, CPU, p.shape()));
    }

    @Test
    void rollbackRestoresWeightsAndOptimizerStateAndSkipsTheBatch() {
        Generator g = new Generator(7);
        try (Scope s = Scope.open()) {
            Map<String, Tensor> m = params(g);
            SGD sgd = new SGD(List.copyOf(m.values()), 0.1, 0.9, 0, 0, false);
            ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("rollback"), m, sgd, new ExplosionGuard.Settings(6, 0.9, 5, 5));
            float[] atSnapshot = null;
            for (long step = 1; step <= 30; step++) {
                grads(m, g);
                boolean apply = guard.check(step, 1.0 + 0.01 * (step % 3), 2.0 + 0.01 * (step % 2));
                assertTrue(apply, "quiet step " + step);
                sgd.step();
                guard.after(step, true);
                if (step == 30) atSnapshot = m.get("w").toFloatArray();
            }
            long stepsBefore = sgd.stepCount();
            grads(m, g);
            assertTrue(guard.check(31, 1.0, 2.0));
            sgd.step();
            guard.after(31, true);
            grads(m, g);
            assertFalse(guard.check(32, 50.0, 2.0), "a loss spike is not applied");
            assertArrayEquals(atSnapshot, m.get("w").toFloatArray(), "weights are back at the step-30 snapshot");
            assertEquals(stepsBefore, sgd.stepCount(), "the optimizer's step count is the snapshot's");
            GuardEvent e = guard.events().getFirst();
            assertEquals(32, e.step());
            assertEquals("loss-spike", e.cause());
            assertTrue(e.action().contains("rolled back to step 30"), e.action());
            assertEquals(1, guard.rollbacks());
            grads(m, g);
            assertFalse(guard.check(33, Double.NaN, 2.0), "a non-finite loss is never applied");
            guard.close();
        }
    }

    @Test
    void backoffLowersTheLearningRateForNStepsThenRestoresIt() {
        Generator g = new Generator(3);
        try (Scope s = Scope.open()) {
            Map<String, Tensor> m = params(g);
            SGD sgd = new SGD(List.copyOf(m.values()), 0.1);
            ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("backoff:0.25:3"), m, sgd, new ExplosionGuard.Settings(6, 0.9, 5, 5));
            for (long step = 1; step <= 10; step++) {
                assertTrue(guard.check(step, 1.0, 1.0 + 0.01 * (step % 2)));
                guard.after(step, true);
            }
            assertTrue(guard.check(11, 1.0, 100.0), "backoff alone lets the spiking step through at the lower lr");
            assertEquals(0.025, sgd.paramGroups().getFirst().lr(), 1e-12);
            guard.after(11, true);
            assertEquals(0.1, sgd.paramGroups().getFirst().lr(), 1e-12, "restored after the step");
            for (long step = 12; step <= 14; step++) {
                assertTrue(guard.check(step, 1.0, 1.0));
                double lr = sgd.paramGroups().getFirst().lr();
                assertEquals(step <= 13 ? 0.025 : 0.1, lr, 1e-12, "step " + step);
                guard.after(step, true);
            }
            assertEquals("grad-spike", guard.events().getFirst().cause());
        }
    }
}
