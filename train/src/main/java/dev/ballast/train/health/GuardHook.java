package dev.ballast.train.health;

import dev.ballast.engine.DType;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.stability.clip.GradNorm;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardEvent;
import dev.ballast.train.Trainer;
import java.io.PrintWriter;
import java.util.List;

/**
 * The {@link ExplosionGuard} as a trainer hook: reads the loss and the global gradient norm (before clipping) in one
 * host read per step, lets the guard decide, prints each event as it happens, and counts the steps applied.
 */
final class GuardHook implements Trainer.StepHook {
    private final ExplosionGuard guard;
    private final List<Tensor> params;
    private final PrintWriter log;
    private long applied;
    private int printed;

    GuardHook(ExplosionGuard guard, List<Tensor> params, PrintWriter log) {
        this.guard = guard;
        this.params = List.copyOf(params);
        this.log = log;
    }

    ExplosionGuard guard() { return guard; }

    /** Steps whose update the optimizer applied (some may have been undone by a later rollback). */
    long applied() { return applied; }

    @Override public boolean beforeStep(long step, Batch batch, Tensor loss) {
        double[] v;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            List<Tensor> grads = GradNorm.gradients(params);
            Tensor norm = GradNorm.compute(loss.device(), grads, Double.POSITIVE_INFINITY, 2, null).narrow(0, GradNorm.NORM, 1).reshape();
            v = Tensor.stack(List.of(loss.reshape().to(DType.F64), norm.to(DType.F64)), 0).toDoubleArray();
        }
        boolean apply = guard.check(step, v[0], v[1]);
        List<GuardEvent> events = guard.events();
        if (log != null) {
            for (; printed < events.size(); printed++) log.println(events.get(printed).line());
            log.flush();
        }
        return apply;
    }

    @Override public void afterStep(long step, boolean applied) {
        if (applied) this.applied++;
        guard.after(step, applied);
    }
}
