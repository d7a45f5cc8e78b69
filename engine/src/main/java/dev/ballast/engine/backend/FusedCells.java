package dev.ballast.engine.backend;

/**
 * Fused recurrent cells: one time step of an LSTM or Elman RNN layer for a whole batch in one pass over memory,
 * forward and backward, so a layer's step costs one matmul and one kernel instead of a dozen elementwise ops. A
 * {@link Backend} may offer it; the engine then runs RNN and LSTM layers through it (and otherwise composes the
 * cell from elementwise ops). Offered through {@link Backend#fusedCells()}. Operands are {@code [B, n]} views with unit column stride and any row stride, in
 * F32 or F64, all of one dtype; gate blocks are stacked in PyTorch's order (LSTM: i, f, g, o, each of H columns).
 */
public interface FusedCells {

    /**
     * LSTM forward: {@code pre = xw + hw (+ bias)}; {@code i, f, o = sigmoid}, {@code g = tanh} of their blocks;
     * {@code c = f * cPrev + i * g}; {@code h = o * tanh(c)}. Writes the activations {@code [i f g o]} to
     * {@code gates [B, 4H]} and the new states to {@code h} and {@code c} ({@code [B, H]}). {@code bias} ({@code [4H]})
     * may be null.
     */
    void lstmCellForward(Strided xw, Strided hw, Strided bias, Strided cPrev, Strided gates, Strided h, Strided c);

    /**
     * LSTM backward of one step, from the saved activations {@code gates}, {@code cPrev} and the new {@code c}:
     * with {@code dh = dhOut + dhNext} (dhNext may be null: zero) and {@code dcT = dcOut + dc + dh * o * (1 - tanh(c)^2)},
     * writes the gradient of the pre-activations to {@code dPre [B, 4H]} ({@code [dcT g i(1-i), dcT cPrev f(1-f),
     * dcT i (1-g^2), dh tanh(c) o(1-o)]}) and overwrites {@code dc} (in: the gradient reaching c from the next step;
     * out: the gradient of cPrev, {@code dcT * f}).
     */
    void lstmCellBackward(Strided gates, Strided cPrev, Strided c, Strided dhOut, Strided dhNext, Strided dcOut, Strided dc,
                          Strided dPre);

    /** Elman RNN forward: {@code h = tanh(xw + hw (+ bias))}. */
    void rnnCellForward(Strided xw, Strided hw, Strided bias, Strided h);

    /** Elman RNN backward: {@code dPre = (dhOut + dhNext) * (1 - h^2)}; {@code dhNext} may be null (zero). */
    void rnnCellBackward(Strided h, Strided dhOut, Strided dhNext, Strided dPre);
}
