package dev.ballast.engine.nn;

import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Arrays;

/**
 * Batch normalization over {@code (N, C)} or {@code (N, C, L)} inputs, as torch.nn.BatchNorm1d. In training the
 * batch mean and biased variance (over N, and L) normalize the input, and the running statistics move by
 * {@code momentum}: {@code running = (1 - momentum) * running + momentum * batch}, the variance term being the
 * unbiased batch variance. In eval mode the running statistics are used. Buffers: running_mean (zeros),
 * running_var (ones), num_batches_tracked (I64); parameters weight (ones) and bias (zeros) when affine.
 */
public final class BatchNorm1d extends Module {
    private final long features;
    private final double eps;
    private final double momentum;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor runningMean;
    private final Tensor runningVar;
    private final Tensor batchesTracked;

    /** eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm1d(long features, ParamSpec spec) { this(features, 1e-5, 0.1, true, spec); }

    public BatchNorm1d(long features, double eps, double momentum, boolean affine, ParamSpec spec) {
        if (features <= 0) throw new IllegalArgumentException("BatchNorm1d: features must be positive, got " + features);
        if (!(eps > 0)) throw new IllegalArgumentException("BatchNorm1d: eps must be positive, got " + eps);
        if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("BatchNorm1d: momentum must be in [0, 1], got " + momentum);
        this.features = features;
        this.eps = eps;
        this.momentum = momentum;
        weight = affine ? registerParameter("weight", spec.full(1, features)) : null;
        bias = affine ? registerParameter("bias", spec.full(0, features)) : null;
        runningMean = registerBuffer("running_mean", spec.full(0, features));
        runningVar = registerBuffer("running_var", spec.full(1, features));
        batchesTracked = registerBuffer("num_batches_tracked", Tensor.zeros(spec.device(), DType.I64));
    }

    public Tensor runningMean() { return runningMean; }

    public Tensor runningVar() { return runningVar; }

    /** How many training batches updated the running statistics. */
    public long batchesTracked() { return (long) batchesTracked.item(); }

    public Tensor weight() { return weight; }

    public Tensor bias() { return bias; }

    @Override
    protected Tensor forward(Tensor x) {
        long[] s = x.shape();
        if ((s.length != 2 && s.length != 3) || s[1] != features)
            throw new IllegalArgumentException("BatchNorm1d at '" + path() + "': expected input (N, " + features + ") or (N, "
                    + features + ", L), got " + Arrays.toString(s));
        int[] axes = s.length == 2 ? new int[]{0} : new int[]{0, 2};
        long[] statShape = s.length == 2 ? new long[]{features} : new long[]{features, 1};
        Tensor y;
        if (isTraining()) {
            long n = x.numel() / features;
            if (n <= 1)
                throw new IllegalArgumentException("BatchNorm1d at '" + path() + "': expected more than 1 value per channel"
                        + " when training, got input " + Arrays.toString(s));
            Tensor mean = x.mean(axes, true);
            Tensor centered = x.sub(mean);
            Tensor var = centered.square().mean(axes, true); // biased, for normalization
            y = centered.mul(var.add(eps).rsqrt());
            updateRunning(mean, var, n);
        } else {
            Tensor rm = runningMean.reshape(statShape), rv = runningVar.reshape(statShape);
            y = x.sub(rm).mul(rv.add(eps).rsqrt());
        }
        if (weight != null) y = y.mul(weight.reshape(statShape)).add(bias.reshape(statShape));
        return y;
    }

    private void updateRunning(Tensor mean, Tensor biasedVar, long n) {
        try (GradMode.Guard g = GradMode.noGrad();
             Tensor m = mean.reshape(features); Tensor v = biasedVar.reshape(features);
             Tensor mStep = m.mul(momentum); Tensor vStep = v.mul(momentum * n / (n - 1.0))) {
            runningMean.mulInPlace(1 - momentum).addInPlace(mStep);
            runningVar.mulInPlace(1 - momentum).addInPlace(vStep);
            try (Tensor one = Tensor.ones(batchesTracked.device(), DType.I64)) {
                batchesTracked.addInPlace(one);
            }
        }
    }
}
