package dev.ballast.engine;

import dev.ballast.engine.backend.FusedAttention;
import java.util.function.Supplier;

/**
 * Multi-head scaled dot-product self-attention over a packed projection {@code qkv [batch, time, 3 E]} (q, k and v
 * side by side on the last axis, each split into {@code heads} heads of {@code E / heads}), as
 * torch.nn.MultiheadAttention computes it: per head {@code softmax(q k^T / sqrt(dHead)) v}, heads concatenated to
 * {@code [batch, time, E]}. One autograd op where the backend has {@link FusedAttention} (F32 and F64: the heads are
 * read in place, the attention weights saved for backward, the gradient written straight into the packed
 * {@code [batch, time, 3 E]} layout), else composed from narrowed views, batched products, an additive mask and a
 * softmax.
 */
public final class Attention {
    private Attention() {}

    /**
     * The attention output {@code [batch, time, E]}; with {@code causal}, position t attends to positions {@code <= t}
     * only. {@code causalMask} gives the composed path's additive {@code [time, time]} mask (0 where a key is seen, a
     * large negative finite value elsewhere) and is only called when that path runs with {@code causal}.
     */
    public static Tensor selfAttention(Tensor qkv, int heads, boolean causal, Supplier<Tensor> causalMask) {
        long[] s = qkv.shape;
        if (s.length != 3 || heads < 1 || s[2] % (3L * heads) != 0)
            throw new IllegalArgumentException("selfAttention: qkv must be [batch, time, 3 * E] with E a multiple of heads (" + heads
                    + "), got " + Shape.str(s));
        long b = s[0], t = s[1], e = s[2] / 3, dh = e / heads;
        double scale = 1 / Math.sqrt(dh);
        boolean fusable = (qkv.dtype == DType.F32 || qkv.dtype == DType.F64) && b > 0 && t > 0 && dh > 0;
        if (fusable && qkv.backend().fusedAttention().orElse(null) instanceof FusedAttention f)
            return fused(f, qkv, b, t, heads, dh, causal, scale);
        Tensor q = splitHeads(qkv.narrow(2, 0, e), b, t, heads, dh);
        Tensor k = splitHeads(qkv.narrow(2, e, e), b, t, heads, dh);
        Tensor v = splitHeads(qkv.narrow(2, 2 * e, e), b, t, heads, dh);
        // q is scaled before the product (smaller than the scores once T > dh), and the causal mask is added: blocked
        // scores become the mask value, whose softmax weight is an exact 0, so no where (and no where backward) is needed
        Tensor scores = q.mul(scale).matmul(k.mT()); // [B, heads, T, T]
        if (causal) scores = scores.add(causalMask.get());
        return scores.softmax(-1).matmul(v).permute(0, 2, 1, 3).reshape(b, t, e);
    }

    private static Tensor splitHeads(Tensor y, long b, long t, int heads, long dh) {
        return y.reshape(b, t, heads, dh).permute(0, 2, 1, 3); // [B, heads, T, dh]
    }

    private static Tensor fused(FusedAttention f, Tensor qkv, long b, long t, int heads, long dh, boolean causal, double scale) {
        Tensor x = qkv.contiguous();
        long e = heads * dh;
        Tensor out = Tensor.empty(qkv.device, qkv.dtype, b, t, e);
        Tensor probs = Tensor.empty(qkv.device, qkv.dtype, b, heads, t, t);
        f.attention(x.view(), b, t, heads, dh, causal, scale, out.view(), probs.view());
        return Ops.recordSaving(out, "self_attention", new Tensor[]{x}, g -> {
            Tensor gc = g.contiguous();
            Tensor dqkv = Tensor.empty(qkv.device, qkv.dtype, b, t, 3 * e);
            try (Tensor scratch = Tensor.empty(qkv.device, qkv.dtype, b, heads, t, t)) {
                f.attentionBackward(x.view(), probs.view(), gc.view(), b, t, heads, dh, causal, scale, scratch.view(), dqkv.view());
            }
            return new Tensor[]{dqkv};
        }, qkv);
    }
}
