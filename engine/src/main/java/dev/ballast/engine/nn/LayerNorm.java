package dev.ballast.engine.nn;

import dev.ballast.engine.Normalization;
import dev.ballast.engine.Tensor;
import java.util.Arrays;

/**
 * Layer normalization over the last {@code normalizedShape.length} axes, as torch.nn.LayerNorm:
 * {@code (x - mean) / sqrt(var + eps) * weight + bias} with the biased variance; weight starts at ones and bias
 * at zeros, both of {@code normalizedShape}, present only when {@code affine}. Runs as one fused op where the
 * backend offers it ({@link Normalization#layerNorm}).
 */
public final class LayerNorm extends Module {
    private final long[] normalizedShape;
    private final double eps;
    private final Tensor weight;
    private final Tensor bias;

    /** Over the last axis of size {@code features}, eps 1e-5, affine. */
    public LayerNorm(long features, ParamSpec spec) { this(new long[]{features}, 1e-5, true, spec); }

    public LayerNorm(long[] normalizedShape, double eps, boolean affine, ParamSpec spec) {
        if (normalizedShape.length == 0) throw new IllegalArgumentException("LayerNorm: normalizedShape must have at least one dim");
        for (long d : normalizedShape)
            if (d <= 0) throw new IllegalArgumentException("LayerNorm: dims must be positive, got " + Arrays.toString(normalizedShape));
        if (!(eps > 0)) throw new IllegalArgumentException("LayerNorm: eps must be positive, got " + eps);
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        weight = affine ? registerParameter("weight", spec.full(1, normalizedShape)) : null;
        bias = affine ? registerParameter("bias", spec.full(0, normalizedShape)) : null;
    }

    public Tensor weight() { return weight; }

    public Tensor bias() { return bias; }

    public double eps() { return eps; }

    @Override
    protected Tensor forward(Tensor x) {
        int k = normalizedShape.length;
        long[] s = x.shape();
        if (s.length < k || !Arrays.equals(Arrays.copyOfRange(s, s.length - k, s.length), normalizedShape))
            throw new IllegalArgumentException("LayerNorm at '" + path() + "': input shape " + Arrays.toString(s)
                    + " must end in " + Arrays.toString(normalizedShape));
        return Normalization.layerNorm(x, k, weight, bias, eps);
    }
}
