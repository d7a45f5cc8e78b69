package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** What {@link RNN} and {@link GRU} return: the last layer's outputs {@code [B, T, H]} and final hidden states {@code [L, B, H]}. */
public record RecurrentOutput(Tensor output, Tensor hN) {}
