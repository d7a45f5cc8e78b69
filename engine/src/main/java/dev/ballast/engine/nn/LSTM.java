package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/**
 * Long short-term memory, as torch.nn.LSTM (batch_first), gates stacked (i, f, g, o):
 * {@code c' = sigmoid(f) * c + sigmoid(i) * tanh(g)}, {@code h' = sigmoid(o) * tanh(c')}.
 */
public final class LSTM extends RecurrentLayer {

    /** Hidden and cell states, each {@code [layers, batch, hidden]}. */
    public record State(Tensor h, Tensor c) {}

    /** The last layer's outputs {@code [B, T, H]} and the final states. */
    public record Output(Tensor output, State state) {}

    public LSTM(long inputSize, long hiddenSize, int numLayers, ParamSpec spec) { this(inputSize, hiddenSize, numLayers, true, spec); }

    public LSTM(long inputSize, long hiddenSize, int numLayers, boolean bias, ParamSpec spec) {
        super(inputSize, hiddenSize, numLayers, bias, 4, spec);
    }

    /** Runs over {@code x [B, T, in]} from {@code initial} (null, or null members, for zeros) inside this module's path. */
    public Output call(Tensor x, State initial) {
        return inModule(() -> {
            Run r = run(x, initial == null ? null : new Tensor[]{initial.h(), initial.c()});
            return new Output(r.output(), new State(r.finals()[0], r.finals()[1]));
        });
    }

    @Override int stateCount() { return 2; }

    @Override
    Tensor[] cell(Tensor xw, Tensor hw, Tensor[] state) {
        Tensor gatesSum = xw.add(hw);
        Tensor i = gate(gatesSum, 0).sigmoid();
        Tensor f = gate(gatesSum, 1).sigmoid();
        Tensor g = gate(gatesSum, 2).tanh();
        Tensor o = gate(gatesSum, 3).sigmoid();
        Tensor c = f.mul(state[1]).add(i.mul(g));
        return new Tensor[]{o.mul(c.tanh()), c};
    }
}
