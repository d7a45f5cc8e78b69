package dev.ballast.engine.optim;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;

/**
 * The fused path of an {@link Optimizer}: dispatches its {@link FusedUpdate} group by group and keeps the device-side
 * step counters the kernels increment on taken steps (skipped steps leave them), so a step needs no host read. The
 * host learns the count only through {@link #read()}, a sync, which the optimizer calls when someone asks for it.
 */
final class FusedDispatch implements AutoCloseable {
    private Tensor[] deviceSteps;  // per group, F64 0-d
    private boolean pending;       // the device counters hold steps the host has not read yet

    /** Whether every parameter can take the fused path: contiguous F32 with a contiguous F32 gradient. */
    static boolean eligible(List<Tensor> params, long[] paramSteps, long steps, boolean pending) {
        if (params.isEmpty()) return false;
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (paramSteps[i] != steps && !pending) return false; // per-parameter counts diverged: bias correction differs
            if (p.dtype() != DType.F32 || g == null || g.dtype() != DType.F32 || !p.isContiguous() || !g.isContiguous()) return false;
        }
        return true;
    }

    boolean pending() { return pending; }

    /** One fused update of every group, starting the counters at {@code hostSteps} when there are none yet. */
    void step(FusedUpdate hook, MultiTensorOps ops, List<ParamGroup> groups, List<Tensor> params, long hostSteps,
              LrSchedule schedule, Tensor coefficient, Tensor skip, Tensor lrFactor, WorkingCopies copies) {
        Device device = params.getFirst().device();
        if (deviceSteps == null) {
            deviceSteps = new Tensor[groups.size()];
            for (int g = 0; g < groups.size(); g++)
                deviceSteps[g] = Scope.detachFromScopes(Tensor.scalar(device, DType.F64, hostSteps));
        }
        Strided coef = coefficient == null ? null : coefficient.view();
        Strided flag = skip == null ? null : skip.view();
        Strided lrf = lrFactor == null ? null : lrFactor.view();
        int start = 0;
        for (int g = 0; g < groups.size(); g++) {
            ParamGroup group = groups.get(g);
            List<Integer> idx = new ArrayList<>();
            List<Strided> ps = new ArrayList<>(), gs = new ArrayList<>();
            for (int k = 0; k < group.params().size(); k++) {
                int i = start + k;
                idx.add(i);
                ps.add(params.get(i).view());
                gs.add(params.get(i).grad().view());
            }
            start += group.params().size();
            LrSchedule sched = schedule == null ? LrSchedule.constant(group.lr()) : schedule.withLr(group.baseLr());
            List<Strided> cs = copies == null ? null : copies.views(idx);
            boolean wrote = hook.run(ops, new FusedUpdate.Group(g, idx, ps, gs, sched, coef, flag, lrf, deviceSteps[g].view(), cs));
            if (copies != null) copies.written(idx, wrote);
        }
        pending = true;
    }

    /** The device step count (a sync); the counters stay valid and equal to the host count afterwards. */
    long read() {
        pending = false;
        return (long) deviceSteps[0].item();
    }

    /** The device step count (group 0's counter, F64 0-d; every group counts the same steps), or null when none. */
    Tensor counter() { return deviceSteps == null ? null : deviceSteps[0]; }

    /**
     * Writes {@code saved} (F64 0-d) into every group's counter where {@code flag} (0-d) is set, on the device; the host
     * learns the count at its next {@link #read()}. Only while the counters exist ({@link #counter()} not null).
     */
    void restore(Tensor saved, Tensor flag) {
        for (Tensor t : deviceSteps) t.copyFrom(Tensor.where(flag, saved, t));
        pending = true;
    }

    /** Drops the counters after the host count moved without them (a composed step, loaded state). */
    void drop() {
        if (deviceSteps == null) return;
        for (Tensor t : deviceSteps) t.close();
        deviceSteps = null;
        pending = false;
    }

    @Override public void close() { drop(); }
}
