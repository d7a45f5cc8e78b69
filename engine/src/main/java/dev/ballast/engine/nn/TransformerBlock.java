package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/**
 * A pre-norm transformer block: {@code x = x + attn(ln1(x))}, then {@code x = x + mlp(ln2(x))}, where the MLP is
 * fc1 {@code (E -> 4E)}, GELU, fc2 {@code (4E -> E)}. Children: ln1, attn, ln2, mlp (with fc1, act, fc2).
 */
public final class TransformerBlock extends Module {
    private final LayerNorm ln1;
    private final MultiHeadSelfAttention attn;
    private final LayerNorm ln2;
    private final Mlp mlp;

    /** The block's feed-forward part: fc1, GELU, fc2. */
    public static final class Mlp extends Module {
        private final Linear fc1;
        private final GELU act;
        private final Linear fc2;

        public Mlp(long dModel, long hidden, ParamSpec spec) {
            fc1 = registerModule("fc1", new Linear(dModel, hidden, spec));
            act = registerModule("act", new GELU());
            fc2 = registerModule("fc2", new Linear(hidden, dModel, spec));
        }

        @Override
        protected Tensor forward(Tensor x) { return fc2.call(act.call(fc1.call(x))); }
    }

    public TransformerBlock(long dModel, int heads, boolean causal, ParamSpec spec) {
        ln1 = registerModule("ln1", new LayerNorm(dModel, spec));
        attn = registerModule("attn", new MultiHeadSelfAttention(dModel, heads, causal, spec));
        ln2 = registerModule("ln2", new LayerNorm(dModel, spec));
        mlp = registerModule("mlp", new Mlp(dModel, 4 * dModel, spec));
    }

    public MultiHeadSelfAttention attention() { return attn; }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor h = x.add(attn.call(ln1.call(x)));
        return h.add(mlp.call(ln2.call(h)));
    }
}
