package dev.ballast.cuda;

import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.UnaryOp;

/**
 * The op codes the kernels switch on (see the case labels in elementwise.cu and reduce.cu). Spelled
 * out rather than taken from ordinals so that a new enum constant fails to compile here instead of
 * silently running the wrong op.
 */
final class OpCodes {
    private OpCodes() {}

    static int unary(UnaryOp op) {
        return switch (op) {
            case NEG -> 0; case ABS -> 1; case EXP -> 2; case LOG -> 3; case SQRT -> 4; case RSQRT -> 5;
            case TANH -> 6; case SIGMOID -> 7; case RELU -> 8; case GELU -> 9; case SIN -> 10; case COS -> 11;
            case SIGN -> 12; case SQUARE -> 13; case RECIPROCAL -> 14; case ISFINITE -> 15; case ISNAN -> 16;
            case ERF -> 17;
        };
    }

    static int binary(BinaryOp op) {
        return switch (op) {
            case ADD -> 0; case SUB -> 1; case MUL -> 2; case DIV -> 3; case POW -> 4; case MAX -> 5; case MIN -> 6;
            case EQ -> 7; case NE -> 8; case LT -> 9; case LE -> 10; case GT -> 11; case GE -> 12;
        };
    }

    static int reduce(ReduceOp op) {
        return switch (op) {
            case SUM -> 0; case MAX -> 1; case MIN -> 2; case ARGMAX -> 3; case ARGMIN -> 4;
        };
    }
}
