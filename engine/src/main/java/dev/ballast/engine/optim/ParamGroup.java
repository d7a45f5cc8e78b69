package dev.ballast.engine.optim;

import dev.ballast.engine.Tensor;
import java.util.List;

/**
 * A set of parameters sharing one learning rate and one weight decay, as torch's param_groups. The learning
 * rate changes as a schedule runs; {@link #baseLr()} keeps the value the group was made with, which schedules
 * scale from.
 */
public final class ParamGroup {
    private final List<Tensor> params;
    private final double baseLr;
    private double lr;
    private double weightDecay;

    public ParamGroup(List<Tensor> params, double lr, double weightDecay) {
        if (params.isEmpty()) throw new IllegalArgumentException("a parameter group needs at least one parameter");
        for (Tensor p : params) {
            if (!p.dtype().isFloating())
                throw new IllegalArgumentException("optimizer parameters must be floating tensors, got " + p.dtype()
                        + " of shape " + java.util.Arrays.toString(p.shape()));
            if (!p.isContiguous())
                throw new IllegalArgumentException("optimizer parameters must be contiguous (they are updated in place), got shape "
                        + java.util.Arrays.toString(p.shape()) + " strides " + java.util.Arrays.toString(p.strides()));
        }
        checkLr(lr);
        checkWeightDecay(weightDecay);
        this.params = List.copyOf(params);
        this.baseLr = lr;
        this.lr = lr;
        this.weightDecay = weightDecay;
    }

    public List<Tensor> params() { return params; }

    /** The learning rate used by the next step. */
    public double lr() { return lr; }

    /** The learning rate the group was constructed with. */
    public double baseLr() { return baseLr; }

    public void setLr(double lr) {
        checkLr(lr);
        this.lr = lr;
    }

    public double weightDecay() { return weightDecay; }

    public void setWeightDecay(double wd) {
        checkWeightDecay(wd);
        this.weightDecay = wd;
    }

    static void checkLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
    }

    static void checkWeightDecay(double wd) {
        if (!(wd >= 0) || Double.isInfinite(wd)) throw new IllegalArgumentException("weight decay must be finite and >= 0, got " + wd);
    }
}
