package dev.ballast.engine.backend;

/** Elementwise functions of one floating operand; the result has the operand's dtype. */
public enum UnaryOp {
    NEG, ABS, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, RELU,
    /** GELU with the exact erf form, as PyTorch's default. */
    GELU,
    SIN, COS, SIGN, SQUARE, RECIPROCAL,
    /** The error function (GELU's gradient needs it). */
    ERF,
    /** 1 where the value is finite, else 0. */
    ISFINITE,
    /** 1 where the value is NaN, else 0. */
    ISNAN
}
