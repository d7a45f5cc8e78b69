package dev.ballast.train.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.data.DataLoader;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.TeacherStudent;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardLog;
import dev.ballast.train.Trainer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * A run with injected bad batches (targets x1e4 at step 40, NaN at step 80) under each guard policy ends within
 * tolerance of the same run without them, while the unguarded run is wrecked; the trainer counts the kept-out steps.
 * The guard is a link of the trainer's chain: its decisions are made on the device, read once at the end.
 */
class GuardRecoveryTest {
    static final Device CPU = Device.cpu();
    static final int STEPS = 160;

    record Outcome(double loss, Trainer.Result result, GuardLog guard) {}

    static Outcome run(boolean inject, String policies) {
        try (Scope scope = Scope.open(); Dataset data = TeacherStudent.generate(CPU, 512, 4, 8, 2, 0.0, 5)) {
            SplittableRandom r = new SplittableRandom(11);
            double[] w = new double[8];
            for (int i = 0; i < w.length; i++) w[i] = (r.nextDouble() - 0.5) * 0.2;
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("weight", Tensor.fromArray(CPU, DType.F32, w, 4, 2).requiresGrad(true));
            m.put("bias", Tensor.zeros(CPU, DType.F32, 2).requiresGrad(true));
            List<Tensor> params = List.copyOf(m.values());
            DataLoader loader = new DataLoader(data, 32, true, true, 3);
            long perEpoch = loader.batchesPerEpoch();
            Function<Batch, Tensor> loss = b -> {
                long step = b.epoch() * perEpoch + b.index() + 1;
                Tensor y = b.targets();
                if (inject && step == 40) y = y.mul(1e4);
                if (inject && step == 80) y = y.mul(Double.NaN);
                return b.inputs().matmul(m.get("weight")).add(m.get("bias")).sub(y).square().mean();
            };
            try (SGD opt = new SGD(params, 0.05, 0.9, 0, 0, false)) {
                ExplosionGuard guard = policies == null ? null : ExplosionGuard.parse(policies);
                GradientChain chain = guard == null ? GradientChain.of(Link.apply(opt)) : GradientChain.of(guard, Link.apply(opt));
                GuardLog log = guard == null ? null : new GuardLog(guard, chain.stateOf(guard));
                // the guard declares that it recovers from non-finite steps, so the trainer does not stop on a NaN loss
                Trainer.Builder b = Trainer.builder(params, opt, loader, loss).maxSteps(STEPS).logEvery(1000).chain(chain)
                        .progress(new dev.ballast.train.ProgressReporter(System.err, STEPS, false));
                if (policies == null) b.stopOnNonFiniteLoss(false); // the unguarded run is let to wreck itself
                Trainer.Result res = b.build().run();
                if (log != null) log.poll();
                double full;
                try (Scope s = Scope.open()) {
                    full = data.inputs().matmul(m.get("weight")).add(m.get("bias")).sub(data.targets()).square().mean().item();
                }
                chain.close();
                return new Outcome(full, res, log);
            }
        }
    }

    @Test
    void injectedBadBatchesRecoverUnderEveryPolicy() {
        double clean = run(false, null).loss();
        double wrecked = run(true, null).loss();
        assertTrue(!(wrecked < 100 * clean + 1), "without a guard the bad batches wreck the run: " + wrecked + " vs " + clean);
        for (String policy : new String[] {"rollback", "skip", "skip,backoff:0.5:20"}) {
            Outcome o = run(true, policy);
            assertTrue(Double.isFinite(o.loss()) && o.loss() <= clean * 1.5 + 1e-4,
                    policy + ": ends within tolerance of the clean run: " + o.loss() + " vs " + clean);
            List<String> causes = o.guard().events().stream().map(e -> e.step() + ":" + e.cause()).toList();
            assertTrue(causes.contains("40:loss-spike"), policy + " " + causes);
            assertTrue(causes.contains("80:non-finite-loss"), policy + " " + causes);
            assertTrue(o.result().skippedSteps() >= 2, policy + ": the bad steps were kept out, " + o.result().skippedSteps());
            if (policy.equals("rollback")) assertEquals(2, o.guard().last().rollbacks());
        }
    }
}
