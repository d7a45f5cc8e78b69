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
 * host read per step, lets the guard decide, prints each event as it happens, and counts the steps applied. In an fp16
 * run ({@code lossScale} given) the gradients arrive multiplied by the loss scale: the guard sees the norm divided by
 * it, and a step whose scaled gradients overflowed while the loss stayed finite is the loss scaler's to skip (an fp16
 * overflow, not an explosion), so the guard lets it through to the chain without counting it.
 */
final class GuardHook implements Trainer.StepHook {
    private final ExplosionGuard guard;
    private final List<Tensor> params;
    private final PrintWriter log;
    private final Tensor lossScale; // the run's live loss scale (0-d), or null
    private long applied;
    private int printed;

    GuardHook(ExplosionGuard guard, List<Tensor> params, PrintWriter log, Tensor lossScale) {
        this.guard = guard;
        this.lossScale = lossScale;
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
            Tensor scale = lossScale == null ? Tensor.scalar(loss.device(), DType.F64, 1) : lossScale.reshape().to(DType.F64);
            v = Tensor.stack(List.of(loss.reshape().to(DType.F64), norm.to(DType.F64), scale), 0).toDoubleArray();
        }
        if (lossScale != null && Double.isFinite(v[0]) && !Double.isFinite(v[1])) return true; // the scaler skips it
        boolean apply = guard.check(step, v[0], v[1] / v[2]);
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
