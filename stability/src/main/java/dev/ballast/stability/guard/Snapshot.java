package dev.ballast.stability.guard;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.OptimizerSnapshot;
import dev.ballast.stability.chain.Gradients;
import dev.ballast.stability.chain.LinkState;
import java.util.List;

/**
 * The guard's last good training state on the device, everything a step depends on: copies of the parameters
 * ({@code p.<i>}), the optimizer's whole state ({@link OptimizerSnapshot}: moments, buffers and the step count that
 * Adam's bias correction and the learning-rate schedule are evaluated from), and every link's training state as the
 * step found it ({@code c.<key>}: a loss scaler's scale and growth tracker, adaptive clipping's averages; not the
 * counters of what happened nor the guard's own observations, see {@code Link.counters()}). Kept as scratch of the guard's link
 * state (not checkpointed). Refreshing and restoring are conditional writes ({@code where}) decided on the device, so
 * neither reads anything on the host on the fused optimizer path.
 */
final class Snapshot {
    private static final String OPTIMIZER = "optimizer";

    private Snapshot() {}

    /**
     * Takes the snapshot at the first step (of this state: a restored run starts a fresh one), then every
     * {@code every} steps when the {@code quiet} steps before this one (device) number at least {@code every} and
     * this step is no {@code event} either: its loss is the first judgement of the weights the copy would keep (a
     * non-finite loss here means the previous steps already left bad weights). Runs before any state of this step is
     * changed (the links' states are taken as the step began), so the copy is the state the previous steps left.
     * Returns 1 where it was taken, else 0 (0-d F64, device).
     */
    static Tensor refresh(Gradients g, LinkState s, Tensor quiet, Tensor event, long every) {
        Device d = g.device();
        List<Tensor> params = g.params();
        boolean first = !s.hasAttachment(OPTIMIZER);
        OptimizerSnapshot opt = s.attachment(OPTIMIZER, OptimizerSnapshot.class, () -> g.optimizer().newSnapshot());
        if (first) {
            Tensor one = Tensor.ones(d, DType.F64);
            for (int i = 0; i < params.size(); i++) s.putScratch("p." + i, params.get(i).detach().copy());
            g.optimizer().saveState(opt, one);
            for (var e : g.chainStateAtEntry().entrySet()) s.putScratch("c." + e.getKey(), e.getValue().copy());
            return one;
        }
        if (g.step() % every != 0) return Tensor.zeros(d, DType.F64);
        Tensor take = quiet.ge(every).mul(event.eq(0)).gt(0);
        for (int i = 0; i < params.size(); i++) {
            Tensor snap = s.scratch("p." + i);
            snap.copyFrom(Tensor.where(take, params.get(i).detach(), snap));
        }
        g.optimizer().saveState(opt, take);
        for (var e : g.chainStateAtEntry().entrySet()) {
            Tensor snap = s.scratch("c." + e.getKey());
            snap.copyFrom(Tensor.where(take, e.getValue(), snap));
        }
        return take.to(DType.F64);
    }

    /**
     * Writes the snapshot back where {@code flag} (0-d, device) is set: parameters, the optimizer's state and step
     * count, and the links' training state.
     */
    static void restore(Gradients g, LinkState s, Tensor flag) {
        List<Tensor> params = g.params();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            p.copyFrom(Tensor.where(flag, s.scratch("p." + i), p.detach()));
        }
        g.optimizer().restoreState(s.attachment(OPTIMIZER, OptimizerSnapshot.class, () -> g.optimizer().newSnapshot()), flag);
        for (var e : g.chainState().entrySet()) {
            Tensor snap = s.scratch("c." + e.getKey());
            e.getValue().copyFrom(Tensor.where(flag, snap, e.getValue()));
        }
    }
}
