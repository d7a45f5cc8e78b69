package dev.ballast.train.builtin;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Embedding;
import dev.ballast.engine.nn.LayerNorm;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.TransformerBlock;

/**
 * The transformer model of {@link BuiltinModels}, decoder-only: token embedding (or a linear projection of float
 * channels; a flat vector is a sequence of scalars) plus a learned position embedding, causal pre-norm blocks, a
 * final LayerNorm and a linear head per position, or on the last position (which has seen the whole sequence).
 */
final class TransformerNet extends Module {
    private final Embedding tokens;
    private final Linear project;
    private final Embedding positions;
    private final Sequential blocks;
    private final LayerNorm norm;
    private final Linear head;
    private final boolean perPosition;
    private final boolean vectorInput;

    TransformerNet(TrainConfig c, BuiltinTasks.Input input, BuiltinTasks.Output output, ParamSpec spec) {
        perPosition = output.perPosition();
        long steps;
        switch (input) {
            case BuiltinTasks.Input.Vector v -> {
                tokens = null;
                project = registerModule("project", new Linear(1, c.width(), spec));
                steps = v.features();
                vectorInput = true;
            }
            case BuiltinTasks.Input.Sequence s -> {
                tokens = null;
                project = registerModule("project", new Linear(s.channels(), c.width(), spec));
                steps = s.steps();
                vectorInput = false;
            }
            case BuiltinTasks.Input.Tokens t -> {
                tokens = registerModule("tokens", new Embedding(t.vocab(), c.width(), spec));
                project = null;
                steps = t.steps();
                vectorInput = false;
            }
        }
        positions = registerModule("positions", new Embedding(steps, c.width(), spec));
        Sequential b = new Sequential();
        for (int i = 0; i < c.layers(); i++) b.add(new TransformerBlock(c.width(), c.heads(), true, spec));
        blocks = registerModule("blocks", b);
        norm = registerModule("norm", new LayerNorm(c.width(), spec));
        head = registerModule("head", BuiltinModels.linear(c.width(), output.size(), c.weightInit(), spec));
    }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor h = tokens != null ? tokens.call(x) : project.call(vectorInput ? x.unsqueeze(-1) : x); // [B, T, E]
        h = h.add(positions.call(Tensor.arange(x.device(), h.size(1))));
        Tensor y = norm.call(blocks.call(h));
        return head.call(perPosition ? y : BuiltinModels.lastStep(y));
    }
}
