package dev.ballast.engine.backend;

/**
 * Multi-head scaled dot-product self-attention as one kernel per direction, reading the heads straight out of the
 * packed in-projection output: what the engine otherwise composes from three narrowed and permuted copies of q, k
 * and v, a scaled copy of q, two batched products, a mask add, a softmax and a permuted copy of the context (and
 * in backward three more products, the softmax gradient and three zero-filled scatters into the packed gradient).
 * A {@link Backend} may offer it through {@link Backend#fusedAttention()}; the engine then calls it from
 * {@code MultiHeadSelfAttention}.
 *
 * <p>Layouts (all contiguous, of one floating dtype, F32 or F64): {@code qkv} is {@code [batch, time, 3 E]} with
 * {@code E = heads * headDim}, the last axis holding q, k and v one after another, each split into heads of
 * {@code headDim}; {@code out} and {@code gOut} are {@code [batch, time, E]} (heads side by side, as after the
 * usual permute and reshape); {@code probs} and {@code scratch} are {@code [batch, heads, time, time]}.
 * For each batch entry b and head h, with {@code Q}, {@code K}, {@code V} its {@code [time, headDim]} slices:
 * {@code P = softmax(scale Q K^T)} over the last axis, where with {@code causal} query i sees keys
 * {@code j <= i} only (later keys get exactly 0 weight), and {@code out = P V}.
 */
public interface FusedAttention {

    /** The forward pass; writes {@code out} and the attention weights {@code probs} (kept for the backward pass). */
    void attention(Strided qkv, long batch, long time, int heads, long headDim, boolean causal, double scale,
                   Strided out, Strided probs);

    /**
     * The gradient of {@link #attention} with respect to {@code qkv}, given the forward's {@code qkv} and
     * {@code probs} and the output's gradient {@code gOut}: {@code dV = P^T gOut}, {@code dP = gOut V^T},
     * {@code dS = scale P (dP - rowsum(dP P))}, {@code dQ = dS K}, {@code dK = dS^T Q}, written into {@code dqkv}
     * (every element). {@code scratch} is overwritten.
     */
    void attentionBackward(Strided qkv, Strided probs, Strided gOut, long batch, long time, int heads, long headDim, boolean causal,
                           double scale, Strided scratch, Strided dqkv);
}
