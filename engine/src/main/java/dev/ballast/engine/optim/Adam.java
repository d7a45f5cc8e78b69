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
 * Adam with torch.optim.Adam's semantics (non-amsgrad): weight decay is an L2 term added to the gradient
 * ({@code g + wd * p}); {@code m = b1*m + (1-b1)*g}, {@code v = b2*v + (1-b2)*g^2},
 * {@code p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)} with {@code t} the parameter's step count.
 * State: {@code exp_avg}, {@code exp_avg_sq} and the per-parameter {@code step}. {@link AdamW} decouples the decay.
 */
public class Adam extends Optimizer {
    private final double beta1;
    private final double beta2;
    private final double eps;

    /** Adam with one group, betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public Adam(List<Tensor> params, double lr) { this(single(params, lr, 0), 0.9, 0.999, 1e-8); }

    /** Adam with one group. */
    public Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(single(params, lr, weightDecay), beta1, beta2, eps);
    }

    /** Adam over parameter groups. */
    public Adam(List<ParamGroup> groups, double beta1, double beta2, double eps) {
        super(groups);
        checkBeta(beta1, "beta1");
        checkBeta(beta2, "beta2");
        if (!(eps >= 0) || Double.isInfinite(eps)) throw new IllegalArgumentException(getClass().getSimpleName() + ": eps must be finite and >= 0, got " + eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    private void checkBeta(double b, String name) {
        if (!(b >= 0 && b < 1)) throw new IllegalArgumentException(getClass().getSimpleName() + ": " + name + " must be in [0, 1), got " + b);
    }

    /** True for AdamW: decay is applied to the weights ({@code p *= 1 - lr*wd}), not added to the gradient. */
    protected boolean decoupledWeightDecay() { return false; }

    @Override
    protected Optional<FusedUpdate> fusedUpdate() { return Optional.of(this::fusedAdam); }

    private boolean fusedAdam(MultiTensorOps ops, FusedUpdate.Group g) {
        List<Strided> m = new ArrayList<>(), v = new ArrayList<>();
        List<Tensor> all = params();
        for (int i : g.indices()) {
            Tensor p = all.get(i);
            Tensor mi = state(i, "exp_avg"), vi = state(i, "exp_avg_sq");
            if (mi == null) mi = putState(i, "exp_avg", Tensor.zeros(p.device(), p.dtype(), p.shape()));
            if (vi == null) vi = putState(i, "exp_avg_sq", Tensor.zeros(p.device(), p.dtype(), p.shape()));
            m.add(mi.view());
            v.add(vi.view());
        }
        return ops.fusedAdam(g.params(), g.grads(), m, v, new MultiTensorOps.AdamParams(beta1, beta2, eps,
                paramGroups().get(g.group()).weightDecay(), decoupledWeightDecay()), g.schedule(), g.coefficient(), g.skip(), g.step(),
                g.lrFactor(), g.workingCopies());
    }

    @Override
    protected void update(int index, Tensor p, Tensor g, double lr, ParamGroup group, long t) {
        double wd = group.weightDecay();
        if (wd != 0) {
            if (decoupledWeightDecay()) p.mulInPlace(1 - lr * wd);
            else g = g.add(p.mul(wd));
        }
        Tensor m = state(index, "exp_avg");
        Tensor v = state(index, "exp_avg_sq");
        if (m == null) m = putState(index, "exp_avg", Tensor.zeros(p.device(), p.dtype(), p.shape()));
        if (v == null) v = putState(index, "exp_avg_sq", Tensor.zeros(p.device(), p.dtype(), p.shape()));
        // m.lerp_(g, 1 - b1) == m + (1 - b1) * (g - m)
        m.addInPlace(g.sub(m).mul(1 - beta1));
        v.mulInPlace(beta2);
        v.addInPlace(g.square().mul(1 - beta2));
        double bc1 = 1 - Math.pow(beta1, t);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
        Tensor denom = v.sqrt().div(bc2Sqrt).add(eps);
        p.addInPlace(m.div(denom).mul(-lr / bc1));
    }

    @Override
    protected Set<String> stateNames() { return Set.of("exp_avg", "exp_avg_sq"); }

    @Override
    protected boolean exportsParamStep() { return true; }

    @Override
    protected Map<String, String> fixedHyperparameters() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("beta1", Double.toString(beta1));
        m.put("beta2", Double.toString(beta2));
        m.put("eps", Double.toString(eps));
        return m;
    }
}
