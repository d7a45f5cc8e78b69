package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/**
 * The gated recurrent unit, as torch.nn.GRU (batch_first), gates stacked (r, z, n):
 * {@code r = sigmoid(xr + hr)}, {@code z = sigmoid(xz + hz)}, {@code n = tanh(xn + r * hn)},
 * {@code h' = (1 - z) * n + z * h}, where {@code x* = x W_i*^T + b_i*} and {@code h* = h W_h*^T + b_h*}.
 */
public final class GRU extends RecurrentLayer {

    public GRU(long inputSize, long hiddenSize, int numLayers, ParamSpec spec) { this(inputSize, hiddenSize, numLayers, true, spec); }

    public GRU(long inputSize, long hiddenSize, int numLayers, boolean bias, ParamSpec spec) {
        super(inputSize, hiddenSize, numLayers, bias, 3, spec);
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
    Tensor[] cell(Tensor xw, Tensor hw, Tensor[] state) {
        Tensor h = state[0];
        Tensor r = gate(xw, 0).add(gate(hw, 0)).sigmoid();
        Tensor z = gate(xw, 1).add(gate(hw, 1)).sigmoid();
        Tensor n = gate(xw, 2).add(r.mul(gate(hw, 2))).tanh();
        // (1 - z) * n + z * h  ==  n + z * (h - n)
        return new Tensor[]{n.add(z.mul(h.sub(n)))};
    }
}
