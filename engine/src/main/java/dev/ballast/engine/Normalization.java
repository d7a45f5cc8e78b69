package dev.ballast.engine;

import dev.ballast.engine.backend.FusedNorms;
import java.util.Arrays;

/**
 * Layer normalization as one autograd op where the backend has {@link FusedNorms} (one pass per row forward and
 * backward, the row mean and reciprocal standard deviation saved by the forward pass), else composed from
 * reductions and elementwise ops. Both compute torch.nn.functional.layer_norm: {@code (x - mean) / sqrt(var + eps)
 * * weight + bias} over the trailing axes, with the biased variance.
 */
public final class Normalization {
    private Normalization() {}

    /**
     * Normalizes {@code x} over its last {@code normalizedDims} axes; {@code weight} and {@code bias} (both null, or
     * both of the normalized axes' shape) are the affine part.
     */
    public static Tensor layerNorm(Tensor x, int normalizedDims, Tensor weight, Tensor bias, double eps) {
        long[] s = x.shape;
        if (normalizedDims < 1 || normalizedDims > s.length)
            throw new IllegalArgumentException("layerNorm: normalizedDims must be in [1, " + s.length + "] for shape " + Arrays.toString(s)
                    + ", got " + normalizedDims);
        long n = Shape.numel(Arrays.copyOfRange(s, s.length - normalizedDims, s.length));
        boolean fusable = (x.dtype == DType.F32 || x.dtype == DType.F64) && n > 0
                && (weight == null || weight.dtype == x.dtype) && (bias == null || bias.dtype == x.dtype);
        if (fusable && x.backend().fusedNorms().orElse(null) instanceof FusedNorms f) return fused(f, x, n, weight, bias, eps);
        int[] axes = new int[normalizedDims];
        for (int i = 0; i < normalizedDims; i++) axes[i] = s.length - normalizedDims + i;
        Tensor mean = x.mean(axes, true);
        Tensor centered = x.sub(mean);
        Tensor var = centered.square().mean(axes, true);
        Tensor y = centered.mul(var.add(eps).rsqrt());
        if (weight != null) y = y.mul(weight);
        if (bias != null) y = y.add(bias);
        return y;
    }

    private static Tensor fused(FusedNorms f, Tensor x, long n, Tensor weight, Tensor bias, double eps) {
        Ops.sameDevice("layerNorm", x, weight == null ? x : weight);
        Ops.sameDevice("layerNorm", x, bias == null ? x : bias);
        Tensor xc = x.contiguous(), wc = weight == null ? null : weight.contiguous(), bc = bias == null ? null : bias.contiguous();
        long rows = x.numel() / n;
        Tensor y = Tensor.empty(x.device, x.dtype, x.shape);
        Tensor mean = Tensor.empty(x.device, DType.F64, rows), rstd = Tensor.empty(x.device, DType.F64, rows);
        f.layerNorm(xc.view(), wc == null ? null : wc.view(), bc == null ? null : bc.view(), rows, n, eps, y.view(), mean.view(), rstd.view());
        Tensor[] saved = wc == null ? new Tensor[]{xc} : new Tensor[]{xc, wc};
        return Ops.recordSaving(y, "layer_norm", saved, g -> {
            Tensor gc = g.contiguous();
            Tensor dx = x.requiresGrad ? Tensor.empty(x.device, x.dtype, x.shape) : null;
            Tensor dw = weight != null && weight.requiresGrad ? Tensor.empty(x.device, x.dtype, weight.shape) : null;
            Tensor db = bias != null && bias.requiresGrad ? Tensor.empty(x.device, x.dtype, bias.shape) : null;
            f.layerNormBackward(xc.view(), wc == null ? null : wc.view(), mean.view(), rstd.view(), gc.view(), rows, n,
                    dx == null ? null : dx.view(), dw == null ? null : dw.view(), db == null ? null : db.view());
            return new Tensor[]{dx, dw, db};
        }, x, weight, bias);
    }
}
