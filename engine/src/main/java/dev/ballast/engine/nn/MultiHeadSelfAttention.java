package dev.ballast.engine.nn;

import dev.ballast.engine.Attention;
import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import dev.ballast.engine.init.WeightInit;
import java.util.Arrays;

/**
 * Multi-head scaled dot-product self-attention over {@code [batch, time, dModel]}, with torch.nn.MultiheadAttention's
 * parameters: in_proj_weight {@code [3E, E]} (Xavier uniform; rows stacked q, k, v), in_proj_bias {@code [3E]}
 * (zeros) and out_proj (a {@link Linear} with zero bias). Each head attends with
 * {@code softmax(q k^T / sqrt(dHead)) v} ({@link Attention#selfAttention}: one fused op where the backend offers it). With
 * {@code causal}, position t attends only to positions {@code <= t}: later keys get exactly 0 weight (the composed
 * path adds a large negative finite value to their scores, so anomaly mode stays quiet).
 */
public final class MultiHeadSelfAttention extends Module {
    private final long dModel;
    private final int heads;
    private final boolean causal;
    private final Tensor inProjWeight;
    private final Tensor inProjBias;
    private final Linear outProj;
    private Tensor maskCache;

    public MultiHeadSelfAttention(long dModel, int heads, boolean causal, ParamSpec spec) {
        if (dModel <= 0 || heads <= 0 || dModel % heads != 0)
            throw new IllegalArgumentException("MultiHeadSelfAttention: dModel (" + dModel + ") must be a positive multiple of heads (" + heads + ")");
        this.dModel = dModel;
        this.heads = heads;
        this.causal = causal;
        inProjWeight = registerParameter("in_proj_weight", Init.xavierUniform(spec.empty(3 * dModel, dModel), 1.0, spec.generator()));
        inProjBias = registerParameter("in_proj_bias", spec.full(0, 3 * dModel));
        outProj = registerModule("out_proj", new Linear(dModel, dModel, true, zeroBiasDefault(), spec));
    }

    /** PyTorch's out_proj: the Linear default weight, bias set to zero. */
    private static WeightInit zeroBiasDefault() {
        WeightInit d = WeightInit.pytorchDefault();
        return new WeightInit.Scheme("pytorch-default, zero bias", d::initWeight, true);
    }

    public boolean causal() { return causal; }

    public int heads() { return heads; }

    @Override
    protected Tensor forward(Tensor x) {
        long[] s = x.shape();
        if (s.length != 3 || s[2] != dModel)
            throw new IllegalArgumentException("MultiHeadSelfAttention at '" + path() + "': input must be [batch, time, " + dModel
                    + "], got " + Arrays.toString(s));
        long b = s[0], t = s[1];
        Tensor qkv = x.reshape(b * t, dModel).matmul(Autocast.weight(inProjWeight).mT()).add(inProjBias).reshape(b, t, 3 * dModel); // [B, T, 3E]
        return outProj.call(Attention.selfAttention(qkv, heads, causal, () -> mask(x, t)));
    }

    /**
     * The additive causal mask for {@code x}'s length, device and dtype: 0 where key j may be seen from query i (j <= i),
     * {@link #maskValue} elsewhere, a [T, T] tensor broadcast over batch and heads. Made once and kept (outside any
     * scope, freed with the module or by the collector), so a training step uploads nothing.
     */
    private Tensor mask(Tensor x, long t) {
        Tensor m = maskCache;
        if (m != null && !m.isClosed() && m.size(0) == t && m.dtype() == x.dtype() && m.device().equals(x.device())) return m;
        if (m != null) m.close();
        int n = Math.toIntExact(t);
        double[] v = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) v[i * n + j] = maskValue(x.dtype());
        maskCache = dev.ballast.engine.Scope.detachFromScopes(Tensor.fromArray(x.device(), x.dtype(), v, t, t));
        return maskCache;
    }

    @Override
    public void close() {
        super.close();
        if (maskCache != null) maskCache.close();
        maskCache = null;
    }

    /** A finite value far below any score that softmax turns into an exact 0 weight. */
    static double maskValue(DType t) { return t == DType.F16 ? -1e4 : -1e9; }
}
