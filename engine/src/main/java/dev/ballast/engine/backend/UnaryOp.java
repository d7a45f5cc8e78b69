package dev.ballast.engine.backend;

import dev.ballast.engine.DType;

/** Elementwise functions of one operand (floating, or integer where {@link #definedForIntegers()}); the result has the operand's dtype. */
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
    ISNAN;

    /**
     * Whether the op is defined on I32/I64 operands (computed exactly in the integer type, as PyTorch does):
     * NEG, ABS, SIGN, SQUARE, RELU, ISFINITE, ISNAN. The rest are floating functions; every backend refuses
     * them on integers with {@link #requireDefinedFor}'s error instead of computing them through a float.
     */
    public boolean definedForIntegers() {
        return switch (this) {
            case NEG, ABS, SIGN, SQUARE, RELU, ISFINITE, ISNAN -> true;
            default -> false;
        };
    }

    /** Throws the shared error when {@code dtype} is an integer type this op is not defined for. */
    public void requireDefinedFor(DType dtype) {
        if (!dtype.isFloating() && !definedForIntegers())
            throw new UnsupportedOperationException("unary " + this + " is not defined for integer dtype " + dtype
                    + "; allowed for integers: NEG, ABS, SIGN, SQUARE, RELU, ISFINITE, ISNAN (cast to a floating dtype first)");
    }
}
