package dev.ballast.engine.nn;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import dev.ballast.engine.init.WeightInit;

/**
 * {@code y = x W^T + b} over the last axis of {@code x} (any leading dims), as torch.nn.Linear: weight
 * {@code [out, in]}, optional bias {@code [out]}, initialized by a {@link WeightInit} (PyTorch's default unless
 * another is given).
 */
public class Linear extends Module {
    private final long inFeatures;
    private final long outFeatures;
    private final Tensor weight;
    private final Tensor bias;

    /** With bias and PyTorch's default init. */
    public Linear(long inFeatures, long outFeatures, ParamSpec spec) {
        this(inFeatures, outFeatures, true, WeightInit.pytorchDefault(), spec);
    }

    public Linear(long inFeatures, long outFeatures, boolean bias, WeightInit init, ParamSpec spec) {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new IllegalArgumentException("Linear: features must be positive, got in=" + inFeatures + " out=" + outFeatures);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        weight = registerParameter("weight", init.initWeight(spec.empty(outFeatures, inFeatures), spec.generator()));
        this.bias = bias ? registerParameter("bias", init.initBias(spec.empty(outFeatures), Init.fanIn(weight.shape()), spec.generator())) : null;
    }

    public Tensor weight() { return weight; }

    /** The bias, or null when built without one. */
    public Tensor bias() { return bias; }

    public long inFeatures() { return inFeatures; }

    public long outFeatures() { return outFeatures; }

    @Override
    protected Tensor forward(Tensor x) {
        if (x.rank() == 0 || x.size(-1) != inFeatures)
            throw new IllegalArgumentException("Linear at '" + path() + "': input shape " + java.util.Arrays.toString(x.shape())
                    + " must end in " + inFeatures + " features");
        // leading dims flattened: one [N, in] x [in, out] product instead of a batch of small ones, forward and backward
        long[] s = x.shape();
        Tensor y = (s.length > 2 ? x.reshape(-1, inFeatures) : x).matmul(Autocast.weight(weight).mT());
        if (bias != null) y = y.add(bias);
        if (s.length <= 2) return y;
        s[s.length - 1] = outFeatures;
        return y.reshape(s);
    }
}
