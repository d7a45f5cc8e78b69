package dev.ballast.train.builtin;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.WeightInit;
import dev.ballast.engine.nn.GELU;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.ReLU;
import dev.ballast.engine.nn.Tanh;

/**
 * Builds the model of a {@link TrainConfig} for a {@link BuiltinTasks.Task}: any model runs on any task, by
 * adapting the input (token inputs go through an {@link Embedding}; a flat vector is read as a sequence of
 * scalars by the sequence models; sequences are flattened for the MLPs) and the output (a linear head per example,
 * on the last position for sequence models, or per position).
 * <ul>
 * <li>mlp: {@code depth} hidden layers Linear(width) + activation, then a linear head; all linear layers use
 *     {@code init}.</li>
 * <li>resmlp: Linear(in, width), {@code depth} pre-norm residual blocks {@code x + W2 act(W1 LN(x))}, LayerNorm,
 *     head; linear layers use {@code init}.</li>
 * <li>rnn, lstm, gru: {@code layers} stacked cells of size {@code hidden} (PyTorch's init), a head with {@code init}.</li>
 * <li>transformer: input projection (or token embedding) of size {@code width} plus a learned position embedding,
 *     {@code layers} causal pre-norm {@link dev.ballast.engine.nn.TransformerBlock}s with {@code heads} heads,
 *     LayerNorm, a head with {@code init}.</li>
 * </ul>
 * Every built model maps a batch of task inputs to {@code [B, K]} or {@code [B, T, K]} outputs with {@code call}.
 */
public final class BuiltinModels {
    private BuiltinModels() {}

    /** The model of {@code c} for {@code task}, its parameters drawn from {@code spec}'s generator. */
    public static Module build(TrainConfig c, BuiltinTasks.Task task, ParamSpec spec) {
        return switch (c.model()) {
            case "mlp", "resmlp" -> new MlpNet(c, task.input(), task.output(), spec);
            case "rnn", "lstm", "gru" -> new RecurrentNet(c, task.input(), task.output(), spec);
            case "transformer" -> new TransformerNet(c, task.input(), task.output(), spec);
            default -> throw new ConfigException("model", "model: '" + c.model() + "' is not one of " + String.join(", ", TrainConfig.MODELS));
        };
    }

    /** The activation module named by {@code activation}. */
    static Module activation(String name) {
        return switch (name) {
            case "tanh" -> new Tanh();
            case "relu" -> new ReLU();
            case "gelu" -> new GELU();
            default -> throw new ConfigException("activation", "activation: '" + name + "' is not one of "
                    + String.join(", ", TrainConfig.ACTIVATIONS));
        };
    }

    /** A linear layer with bias and the configured init. */
    static Linear linear(long in, long out, WeightInit init, ParamSpec spec) { return new Linear(in, out, true, init, spec); }

    /** The last time step {@code [B, F]} of a {@code [B, T, F]} sequence. */
    static Tensor lastStep(Tensor seq) { return seq.select(1, seq.size(1) - 1); }
}
