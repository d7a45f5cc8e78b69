package dev.ballast.engine.backend;

import dev.ballast.engine.DType;

/**
 * Whole recurrent layers in one call, forward and backward: the time loop runs inside the backend, which can keep
 * the recurrent weight prepared (packed for its matrix kernel) across all time steps and split the batch across its
 * threads for the whole loop (rows of the batch never meet before the weight gradient), as cuDNN and PyTorch's CPU
 * RNNs do. A {@link Backend} may offer it through {@link Backend#fusedRecurrentLayers()}; the engine then runs its
 * fused RNN and LSTM layers through it, else through {@link FusedCells} step by step.
 *
 * <p>The arithmetic is that of {@link FusedCells} with one product per step: {@code hw = h_{t-1} W_hh^T} (each
 * element a sum over H in increasing order) and the cell kernel forward; backward, from the last step down, the
 * cell gradient and {@code dh_{t-1} = dPre_t W_hh}. The weight and bias gradients are the caller's (one product over
 * all steps). Operands: {@code [B, T, n]} sequences and {@code [B, n]} states with unit column stride and any other
 * strides, the weight {@code [G*H, H]} with any strides; gate blocks in PyTorch's order.
 */
public interface FusedRecurrentLayers {

    /** Whether the layers take operands of {@code dtype}. */
    boolean serves(DType dtype);

    /**
     * LSTM forward over {@code xw [B, T, 4H]} (input projections, {@code b_ih} included) from {@code h0, c0 [B, H]}:
     * writes the gate activations {@code [i f g o]} of every step to {@code gates [B, T, 4H]} and {@code h_t, c_t}
     * to {@code out [B, T, 2H]} (h in the first H columns, c in the last H). {@code bias} ({@code b_hh}, [4H]) may be
     * null; {@code work [B, 4H]} is scratch.
     */
    void lstmForward(Strided xw, Strided wHh, Strided bias, Strided h0, Strided c0, Strided gates, Strided out, Strided work);

    /**
     * LSTM backward from the gradient {@code gOut [B, T, 2H]} of {@code out}: writes the gradient of the gate
     * pre-activations {@code dPre [B, T, 4H]} (which is also that of {@code xw} and of {@code b_hh} summed over B and
     * T), the gradient of {@code c0} to {@code dc0 [B, H]} and, when {@code dh0} is not null, that of {@code h0}.
     * {@code work [B, H]} is scratch.
     */
    void lstmBackward(Strided wHh, Strided gates, Strided out, Strided h0, Strided c0, Strided gOut, Strided dPre, Strided dc0,
                      Strided dh0, Strided work);

    /**
     * Elman (tanh) RNN forward over {@code xw [B, T, H]} from {@code h0 [B, H]}: writes {@code h_t} to
     * {@code out [B, T, H]}. {@code bias} may be null; {@code work [B, H]} is scratch.
     */
    void rnnForward(Strided xw, Strided wHh, Strided bias, Strided h0, Strided out, Strided work);

    /**
     * Elman RNN backward from {@code gOut [B, T, H]}: writes {@code dPre [B, T, H]} and, when {@code dh0} is not null,
     * the gradient of {@code h0}. {@code work [B, H]} is scratch.
     */
    void rnnBackward(Strided wHh, Strided out, Strided h0, Strided gOut, Strided dPre, Strided dh0, Strided work);
}
