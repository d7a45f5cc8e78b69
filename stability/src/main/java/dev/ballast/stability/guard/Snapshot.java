package dev.ballast.stability.guard;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.stability.chain.Gradients;
import dev.ballast.stability.chain.LinkState;
import java.util.List;
import java.util.Map;

/**
 * The guard's last good state on the device: copies of the parameters ({@code p.<i>}) and of the optimizer's state
 * tensors ({@code o.<key>}), kept as scratch of the guard's link state (not checkpointed). Refreshing and restoring
 * are conditional writes ({@code where}) decided on the device, so neither reads anything on the host.
 */
final class Snapshot {
    private Snapshot() {}

    /**
     * Takes the snapshot at the first step (of this state: a restored run starts a fresh one), then every
     * {@code every} steps when the {@code quiet} steps before this one (device) number at least {@code every} and
     * this step is no {@code event} either: its loss is the first judgement of the weights the copy would keep (a
     * non-finite loss here means the previous steps already left bad weights). Runs before this step's update, so the
     * copy is the state the previous steps left. Returns 1 where it was taken, else 0 (0-d F64, device).
     */
    static Tensor refresh(Gradients g, LinkState s, Tensor quiet, Tensor event, long every) {
        Device d = g.device();
        List<Tensor> params = g.params();
        if (s.scratch().isEmpty()) {
            for (int i = 0; i < params.size(); i++) s.putScratch("p." + i, params.get(i).detach().copy());
            for (var e : g.optimizer().stateTensors().entrySet()) s.putScratch("o." + e.getKey(), e.getValue().copy());
            return Tensor.ones(d, DType.F64);
        }
        if (g.step() % every != 0) return Tensor.zeros(d, DType.F64);
        Tensor take = quiet.ge(every).mul(event.eq(0)).gt(0);
        for (int i = 0; i < params.size(); i++) {
            Tensor snap = s.scratch("p." + i);
            snap.copyFrom(Tensor.where(take, params.get(i).detach(), snap));
        }
        for (var e : g.optimizer().stateTensors().entrySet()) {
            Tensor snap = s.scratch("o." + e.getKey());
            // state made after the last snapshot was zeros then: optimizers start their moments and buffers at zero
            if (snap == null) snap = s.putScratch("o." + e.getKey(), Tensor.zeros(d, e.getValue().dtype(), e.getValue().shape()));
            snap.copyFrom(Tensor.where(take, e.getValue(), snap));
        }
        return take.to(DType.F64);
    }

    /** Writes the snapshot back into parameters and optimizer state where {@code flag} (0-d, device) is set. */
    static void restore(Gradients g, LinkState s, Tensor flag) {
        List<Tensor> params = g.params();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            p.copyFrom(Tensor.where(flag, s.scratch("p." + i), p.detach()));
        }
        Map<String, Tensor> live = g.optimizer().stateTensors();
        for (var e : live.entrySet()) {
            Tensor snap = s.scratch("o." + e.getKey());
            Tensor back = snap != null ? snap : Tensor.zeros(g.device(), e.getValue().dtype(), e.getValue().shape());
            e.getValue().copyFrom(Tensor.where(flag, back, e.getValue()));
        }
    }
}
