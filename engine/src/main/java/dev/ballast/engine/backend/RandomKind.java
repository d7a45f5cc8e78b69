package dev.ballast.engine.backend;

/** Distributions the Philox generator fills tensors with. */
public enum RandomKind {
    /** Uniform on [0, 1). */
    UNIFORM,
    /** Standard normal through Box-Muller. */
    NORMAL
}
