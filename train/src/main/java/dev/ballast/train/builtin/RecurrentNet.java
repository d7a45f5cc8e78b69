package dev.ballast.train.builtin;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Embedding;
import dev.ballast.engine.nn.GRU;
import dev.ballast.engine.nn.LSTM;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.RNN;
import dev.ballast.engine.nn.RecurrentLayer;

/**
 * The rnn, lstm and gru models of {@link BuiltinModels}: a stacked recurrent layer over {@code [B, T, C]} (tokens
 * embedded to {@code hidden}, a flat vector read as {@code [B, F, 1]}) and a linear head on the last step's output
 * or on every step's.
 */
final class RecurrentNet extends Module {
    private final Embedding embed;
    private final RecurrentLayer rnn;
    private final Linear head;
    private final boolean perPosition;
    private final boolean vectorInput;

    RecurrentNet(TrainConfig c, BuiltinTasks.Input input, BuiltinTasks.Output output, ParamSpec spec) {
        perPosition = output.perPosition();
        long channels;
        switch (input) {
            case BuiltinTasks.Input.Vector v -> { channels = 1; embed = null; vectorInput = true; }
            case BuiltinTasks.Input.Sequence s -> { channels = s.channels(); embed = null; vectorInput = false; }
            case BuiltinTasks.Input.Tokens t -> {
                embed = registerModule("embed", new Embedding(t.vocab(), c.hidden(), spec));
                channels = c.hidden();
                vectorInput = false;
            }
        }
        rnn = registerModule("rnn", switch (c.model()) {
            case "rnn" -> new RNN(channels, c.hidden(), c.layers(), spec);
            case "lstm" -> new LSTM(channels, c.hidden(), c.layers(), spec);
            case "gru" -> new GRU(channels, c.hidden(), c.layers(), spec);
            default -> throw new IllegalArgumentException("not a recurrent model: " + c.model());
        });
        head = registerModule("head", BuiltinModels.linear(c.hidden(), output.size(), c.weightInit(), spec));
    }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor seq = embed != null ? embed.call(x) : vectorInput ? x.unsqueeze(-1) : x;
        Tensor out = rnn.call(seq); // [B, T, H]
        return head.call(perPosition ? out : BuiltinModels.lastStep(out));
    }
}
