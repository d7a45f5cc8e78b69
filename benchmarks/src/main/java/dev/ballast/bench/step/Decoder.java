package dev.ballast.bench.step;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Embedding;
import dev.ballast.engine.nn.LayerNorm;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.TransformerBlock;

/**
 * A decoder-only transformer as step_models.Decoder: token embedding ({@code tok}) plus learned positions
 * ({@code pos}, a {@code [T, d]} parameter starting at zero, as in the reference script), causal pre-norm
 * {@link TransformerBlock}s ({@code blocks.i}), an optional final LayerNorm ({@code ln}) and a linear head per
 * position ({@code head}).
 */
final class Decoder extends Module {
    private final Embedding tok;
    private final Tensor pos;
    private final Sequential blocks;
    private final LayerNorm ln;
    private final Linear head;

    Decoder(long vocab, long d, int layers, int heads, long time, boolean finalNorm, ParamSpec spec) {
        tok = registerModule("tok", new Embedding(vocab, d, spec));
        pos = registerParameter("pos", spec.full(0, time, d));
        Sequential b = new Sequential();
        for (int i = 0; i < layers; i++) b.add(new TransformerBlock(d, heads, true, spec));
        blocks = registerModule("blocks", b);
        ln = finalNorm ? registerModule("ln", new LayerNorm(d, spec)) : null;
        head = registerModule("head", new Linear(d, vocab, spec));
    }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor h = blocks.call(tok.call(x).add(pos));
        return head.call(ln == null ? h : ln.call(h));
    }
}
