package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** The Elman RNN, as torch.nn.RNN (tanh, batch_first): {@code h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)}. */
public final class RNN extends RecurrentLayer {

    public RNN(long inputSize, long hiddenSize, int numLayers, ParamSpec spec) { this(inputSize, hiddenSize, numLayers, true, spec); }

    public RNN(long inputSize, long hiddenSize, int numLayers, boolean bias, ParamSpec spec) {
        super(inputSize, hiddenSize, numLayers, bias, 1, spec);
    }

    /** Runs over {@code x [B, T, in]} from {@code h0 [L, B, H]} (null for zeros) inside this module's path. */
    public RecurrentOutput call(Tensor x, Tensor h0) {
        return inModule(() -> {
            Run r = run(x, new Tensor[]{h0});
            return new RecurrentOutput(r.output(), r.finals()[0]);
        });
    }

    @Override int stateCount() { return 1; }

    @Override
    Tensor[] cell(Tensor xw, Tensor hw, Tensor[] state) { return new Tensor[]{xw.add(hw).tanh()}; }
}
