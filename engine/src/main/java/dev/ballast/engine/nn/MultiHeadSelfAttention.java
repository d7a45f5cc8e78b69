package dev.ballast.engine.nn;

import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import dev.ballast.engine.init.WeightInit;
import java.util.Arrays;

/**
 * Multi-head scaled dot-product self-attention over {@code [batch, time, dModel]}, with torch.nn.MultiheadAttention's
 * parameters: in_proj_weight {@code [3E, E]} (Xavier uniform; rows stacked q, k, v), in_proj_bias {@code [3E]}
 * (zeros) and out_proj (a {@link Linear} with zero bias). Each head attends with
 * {@code softmax(q k^T / sqrt(dHead)) v}. With {@code causal}, position t attends only to positions {@code <= t}:
 * later scores are replaced (through where) by a large negative finite value, so anomaly mode stays quiet.
 */
public final class MultiHeadSelfAttention extends Module {
    private final long dModel;
    private final int heads;
    private final boolean causal;
    private final Tensor inProjWeight;
    private final Tensor inProjBias;
    private final Linear outProj;
    private Tensor[] maskCache;

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
        long b = s[0], t = s[1], dh = dModel / heads;
        Tensor qkv = x.reshape(b * t, dModel).matmul(inProjWeight.mT()).add(inProjBias).reshape(b, t, 3 * dModel); // [B, T, 3E]
        Tensor q = splitHeads(qkv.narrow(2, 0, dModel), b, t, dh);
        Tensor k = splitHeads(qkv.narrow(2, dModel, dModel), b, t, dh);
        Tensor v = splitHeads(qkv.narrow(2, 2 * dModel, dModel), b, t, dh);
        Tensor scores = q.matmul(k.mT()).mul(1 / Math.sqrt(dh)); // [B, heads, T, T]
        if (causal) {
            Tensor[] m = mask(x, t);
            scores = Tensor.where(m[0], scores, m[1]);
        }
        Tensor attn = scores.softmax(-1);
        Tensor ctx = attn.matmul(v).permute(0, 2, 1, 3).reshape(b, t, dModel);
        return outProj.call(ctx);
    }

    private Tensor splitHeads(Tensor y, long b, long t, long dh) {
        return y.reshape(b, t, heads, dh).permute(0, 2, 1, 3); // [B, heads, T, dh]
    }

    /**
     * The causal mask and the blocked score value for {@code x}'s length, device and dtype, made once and kept (outside
     * any scope, freed with the module or by the collector) so a training step uploads nothing.
     */
    private Tensor[] mask(Tensor x, long t) {
        Tensor[] m = maskCache;
        if (m != null && m[0].size(0) == t && m[0].dtype() == x.dtype() && m[0].device().equals(x.device()) && !m[0].isClosed())
            return m;
        try (dev.ballast.engine.autograd.GradMode.Guard g = dev.ballast.engine.autograd.GradMode.noGrad()) {
            Tensor allowed = dev.ballast.engine.Scope.detachFromScopes(causalMask(x, t));
            Tensor blocked = dev.ballast.engine.Scope.detachFromScopes(Tensor.scalar(x.device(), x.dtype(), maskValue(x.dtype())));
            if (m != null) for (Tensor old : m) old.close();
            maskCache = new Tensor[]{allowed, blocked};
            return maskCache;
        }
    }

    @Override
    public void close() {
        super.close();
        if (maskCache != null) for (Tensor m : maskCache) m.close();
        maskCache = null;
    }

    /** 1 where key j may be seen from query i (j <= i), else 0: a [T, T] tensor broadcast over batch and heads. */
    private static Tensor causalMask(Tensor x, long t) {
        int n = Math.toIntExact(t);
        double[] m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) m[i * n + j] = 1;
        return Tensor.fromArray(x.device(), x.dtype(), m, t, t);
    }

    /** A finite value far below any score that softmax turns into an exact 0 weight. */
    static double maskValue(DType t) { return t == DType.F16 ? -1e4 : -1e9; }
}
