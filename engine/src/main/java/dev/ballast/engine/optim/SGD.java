package dev.ballast.engine.optim;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Set;

/**
 * Stochastic gradient descent with torch.optim.SGD's semantics: {@code d = g + wd * p}; with momentum
 * {@code buf = d} on the first step and {@code buf = momentum * buf + (1 - dampening) * d} after; Nesterov uses
 * {@code d + momentum * buf}, otherwise {@code buf}; then {@code p -= lr * d}. State: {@code momentum_buffer}.
 */
public final class SGD extends Optimizer {
    private final double momentum;
    private final double dampening;
    private final boolean nesterov;

    /** Plain SGD with one group. */
    public SGD(List<Tensor> params, double lr) { this(single(params, lr, 0), 0, 0, false); }

    /** SGD with one group and momentum, dampening, weight decay and Nesterov as torch. */
    public SGD(List<Tensor> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        this(single(params, lr, weightDecay), momentum, dampening, nesterov);
    }

    /** SGD over parameter groups, each with its own lr and weight decay. */
    public SGD(List<ParamGroup> groups, double momentum, double dampening, boolean nesterov) {
        super(groups);
        if (!(momentum >= 0) || Double.isInfinite(momentum)) throw new IllegalArgumentException("SGD: momentum must be finite and >= 0, got " + momentum);
        if (!(dampening >= 0) || Double.isInfinite(dampening)) throw new IllegalArgumentException("SGD: dampening must be finite and >= 0, got " + dampening);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new IllegalArgumentException("SGD: Nesterov momentum requires momentum > 0 and dampening = 0, got momentum "
                    + momentum + ", dampening " + dampening);
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
    }

    @Override
    protected Optional<FusedUpdate> fusedUpdate() { return Optional.of(this::fusedSgd); }

    private boolean fusedSgd(MultiTensorOps ops, FusedUpdate.Group g) {
        List<Strided> bufs = null;
        if (momentum != 0) {
            bufs = new ArrayList<>();
            List<Tensor> all = params();
            for (int i : g.indices()) {
                Tensor p = all.get(i);
                Tensor b = state(i, "momentum_buffer");
                // the kernel copies the gradient into the buffer on the first taken step, as torch does
                if (b == null) b = putState(i, "momentum_buffer", Tensor.zeros(p.device(), p.dtype(), p.shape()));
                bufs.add(b.view());
            }
        }
        return ops.fusedSgd(g.params(), g.grads(), bufs, new MultiTensorOps.SgdParams(momentum, dampening,
                paramGroups().get(g.group()).weightDecay(), nesterov), g.schedule(), g.coefficient(), g.skip(), g.step(),
                g.lrFactor(), g.workingCopies());
    }

    @Override
    protected void update(int index, Tensor p, Tensor g, double lr, ParamGroup group, long paramStep) {
        Tensor d = group.weightDecay() != 0 ? g.add(p.mul(group.weightDecay())) : g;
        if (momentum != 0) {
            Tensor buf = state(index, "momentum_buffer");
            if (buf == null) {
                buf = putState(index, "momentum_buffer", Tensor.empty(p.device(), p.dtype(), p.shape()));
                buf.copyFrom(d);
            } else {
                buf.mulInPlace(momentum);
                buf.addInPlace(dampening == 0 ? d : d.mul(1 - dampening));
            }
            d = nesterov ? d.add(buf.mul(momentum)) : buf;
        }
        p.addInPlace(d.mul(-lr));
    }

    @Override
    protected Set<String> stateNames() { return Set.of("momentum_buffer"); }

    @Override
    protected Map<String, String> fixedHyperparameters() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("momentum", Double.toString(momentum));
        m.put("dampening", Double.toString(dampening));
        m.put("nesterov", Boolean.toString(nesterov));
        return m;
    }
}
