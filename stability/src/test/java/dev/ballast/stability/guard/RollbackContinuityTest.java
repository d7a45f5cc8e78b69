package dev.ballast.stability.guard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.optim.Adam;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.scale.GradScaler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * A rolled-back run continues exactly like a run that never saw the undone batches: a small tanh network trained
 * through a chain with a loss scaler (growing its scale every 3 steps), the guard, ZClip and Adam or SGD with momentum
 * under a warm-up + step schedule. Batch 30 is bad (targets shifted by 300: a loss spike); the guard rolls back to its
 * snapshot after step s. A second run fed batches 1..s, 31..40 must end bit-identical: weights, optimizer state and
 * step counts (Adam's bias correction, the schedule's lr), the scaler's scale and growth tracker, ZClip's averages
 * (the guard keeps its own observations). Both the fused optimizer path and the composed one (forced by a parameter without a gradient).
 */
class RollbackContinuityTest {
    static final Device CPU = Device.cpu();
    static final int STEPS = 40, BAD = 30;

    record Run(List<Tensor> params, Optimizer opt, GradScaler scaler, ExplosionGuard guard, GradientChain chain) {}

    static Run make(long seed, boolean composed, Function<List<Tensor>, Optimizer> optimizer) {
        Generator gen = new Generator(seed);
        List<Tensor> params = new ArrayList<>(List.of(Tensor.randn(gen, CPU, 4, 8).mul(0.5).requiresGrad(true),
                Tensor.zeros(CPU, DType.F32, 8).requiresGrad(true), Tensor.randn(gen, CPU, 8, 1).mul(0.3).requiresGrad(true)));
        if (composed) params.add(Tensor.zeros(CPU, DType.F32, 3).requiresGrad(true)); // never gets a gradient
        Optimizer opt = optimizer.apply(params);
        opt.setSchedule(LrSchedule.step(7, 0.5).withWarmup(5));
        GradScaler scaler = new GradScaler(CPU, 1024, 2, 0.5, 3);
        ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("rollback"), new ExplosionGuard.Settings(6, 0.9, 10, 4));
        return new Run(params, opt, scaler, guard, GradientChain.of(Link.unscale(scaler), guard, Link.zClip(3), Link.apply(opt)));
    }

    /** One step on batch {@code index} (its data drawn from the index alone), bad when {@code index == BAD}. */
    static void step(Run r, int index) {
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(7_000 + index);
            Tensor x = Tensor.randn(gen, CPU, 16, 4);
            Tensor y = x.sum(1, true).mul(0.5).tanh();
            if (index == BAD) y = y.add(300);
            r.opt().zeroGrad();
            Tensor out = x.matmul(r.params().get(0)).add(r.params().get(1)).tanh().matmul(r.params().get(2));
            Tensor loss = out.sub(y).square().mean();
            r.scaler().scaleLoss(loss).backward();
            r.chain().step(loss.detach()).read();
        }
    }

    static Map<String, double[]> state(Run r) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (int i = 0; i < r.params().size(); i++) m.put("param." + i, r.params().get(i).toDoubleArray());
        for (var e : r.opt().stateDict().entrySet()) m.put("opt." + e.getKey(), e.getValue().to(DType.F64).toDoubleArray());
        m.put("lr", new double[] {r.opt().paramGroups().getFirst().lr()});
        for (var e : r.chain().stateDict().entrySet()) {
            String k = e.getKey();
            // what happened (events, skips, the scaler's overflow count) differs by design: the training state may not
            if (k.startsWith("skips.") || k.endsWith("skipped_steps")) continue;
            if (k.startsWith("link.1.")) continue; // the guard's own observations are kept through its rollbacks
            m.put("chain." + k, e.getValue().to(DType.F64).toDoubleArray());
        }
        return m;
    }

    void check(boolean composed, Function<List<Tensor>, Optimizer> optimizer, String what) {
        try (Scope sc = Scope.open()) {
            Run rolled = make(11, composed, optimizer);
            GuardLog log = new GuardLog(rolled.guard(), rolled.chain().stateOf(rolled.guard()));
            for (int i = 1; i <= STEPS; i++) step(rolled, i);
            List<GuardEvent> events = log.poll();
            assertEquals(1, events.size(), what + ": one event, the bad batch: " + events);
            GuardEvent e = events.getFirst();
            assertEquals(BAD, e.step(), e.line());
            assertEquals("loss-spike", e.cause(), e.line());
            int snap = Integer.parseInt(e.action().replaceAll(".*rolled back to step (\\d+).*", "$1"));
            assertTrue(snap >= 10 && snap < BAD - 1, what + ": the rollback undid applied steps: " + e.line());

            Run clean = make(11, composed, optimizer);
            for (int i = 1; i <= snap; i++) step(clean, i);
            for (int i = BAD + 1; i <= STEPS; i++) step(clean, i);
            Map<String, double[]> want = state(clean), got = state(rolled);
            assertEquals(want.keySet(), got.keySet(), what);
            for (var w : want.entrySet()) assertArrayEquals(w.getValue(), got.get(w.getKey()), 0, what + ": " + w.getKey());
            assertEquals(clean.opt().stepCount(), rolled.opt().stepCount(), what + ": steps taken");
            assertEquals(snap + STEPS - BAD, rolled.opt().stepCount(), what + ": the undone steps are not counted");
            assertTrue(clean.scaler().scale().item() > 1024, what + ": the scale grew, so its rollback was tested");
            rolled.chain().close();
            clean.chain().close();
        }
    }

    @Test void adamRunContinuesAsIfTheUndoneBatchesNeverHappened() {
        check(false, p -> new Adam(p, 0.02), "Adam, fused");
    }

    @Test void composedAdamRunContinuesAsIfTheUndoneBatchesNeverHappened() {
        check(true, p -> new Adam(p, 0.02), "Adam, composed");
    }

    @Test void sgdMomentumRunContinuesAsIfTheUndoneBatchesNeverHappened() {
        check(false, p -> new SGD(p, 0.05, 0.9, 0, 1e-4, false), "SGD momentum, fused");
    }
}
