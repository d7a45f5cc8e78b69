package dev.ballast.train.builtin;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.WeightInit;
import dev.ballast.engine.nn.Embedding;
import dev.ballast.engine.nn.LayerNorm;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Residual;
import dev.ballast.engine.nn.Sequential;

/** The mlp and resmlp models of {@link BuiltinModels}: inputs flattened to {@code [B, F]}, tokens embedded first. */
final class MlpNet extends Module {
    private final Embedding embed;
    private final Sequential body;
    private final Linear head;
    private final BuiltinTasks.Output output;
    private final long steps;

    MlpNet(TrainConfig c, BuiltinTasks.Input input, BuiltinTasks.Output output, ParamSpec spec) {
        this.output = output;
        WeightInit init = c.weightInit();
        long in;
        switch (input) {
            case BuiltinTasks.Input.Vector v -> { in = v.features(); steps = 1; embed = null; }
            case BuiltinTasks.Input.Sequence s -> { in = (long) s.steps() * s.channels(); steps = s.steps(); embed = null; }
            case BuiltinTasks.Input.Tokens t -> {
                embed = registerModule("embed", new Embedding(t.vocab(), c.width(), spec));
                in = (long) t.steps() * c.width();
                steps = t.steps();
            }
        }
        Sequential layers = new Sequential();
        if (c.model().equals("mlp")) {
            long prev = in;
            for (int i = 0; i < c.depth(); i++) {
                layers.add(BuiltinModels.linear(prev, c.width(), init, spec)).add(BuiltinModels.activation(c.activation()));
                prev = c.width();
            }
        } else {
            layers.add(BuiltinModels.linear(in, c.width(), init, spec));
            for (int i = 0; i < c.depth(); i++) {
                layers.add(new Residual(new Sequential(new LayerNorm(c.width(), spec), BuiltinModels.linear(c.width(), c.width(), init, spec),
                        BuiltinModels.activation(c.activation()), BuiltinModels.linear(c.width(), c.width(), init, spec))));
            }
            layers.add(new LayerNorm(c.width(), spec));
        }
        body = registerModule("body", layers);
        long outFeatures = output.perPosition() ? steps * output.size() : output.size();
        head = registerModule("head", BuiltinModels.linear(c.width(), outFeatures, init, spec));
    }

    @Override
    protected Tensor forward(Tensor x) {
        long b = x.size(0);
        Tensor h = embed != null ? embed.call(x) : x;
        Tensor y = head.call(body.call(h.reshape(b, -1)));
        return output.perPosition() ? y.reshape(b, steps, output.size()) : y;
    }
}
