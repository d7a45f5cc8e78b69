package dev.ballast.engine.optim;

import dev.ballast.engine.Tensor;
import java.util.List;

/**
 * AdamW with torch.optim.AdamW's semantics: Adam whose weight decay is decoupled, {@code p *= 1 - lr * wd} before
 * the moment update, instead of an L2 term in the gradient. Torch's default decay is 0.01.
 */
public final class AdamW extends Adam {
    /** AdamW with one group, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (torch's defaults). */
    public AdamW(List<Tensor> params, double lr) { this(params, lr, 0.9, 0.999, 1e-8, 0.01); }

    public AdamW(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params, lr, beta1, beta2, eps, weightDecay);
    }

    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps) { super(groups, beta1, beta2, eps); }

    @Override
    protected boolean decoupledWeightDecay() { return true; }
}
