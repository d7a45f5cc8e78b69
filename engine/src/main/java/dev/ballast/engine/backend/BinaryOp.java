package dev.ballast.engine.backend;

/**
 * Elementwise functions of two operands of one dtype. Comparisons give 1 for true and 0 for false
 * in the operands' dtype.
 */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAX, MIN, EQ, NE, LT, LE, GT, GE;

    public boolean isComparison() { return ordinal() >= EQ.ordinal(); }
}
