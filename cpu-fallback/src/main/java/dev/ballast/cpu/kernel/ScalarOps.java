package dev.ballast.cpu.kernel;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.UnaryOp;

/**
 * The elementwise functions on work arrays: floating operands in double (results are rounded to the
 * output dtype on store, so F32 results are within an ulp or two of a float64 reference), integer
 * operands in long with two's-complement wrap-around. The op is dispatched once per array, never per element.
 */
public final class ScalarOps {
    private ScalarOps() {}

    private static final double INV_SQRT2 = 0.70710678118654752440;

    /**
     * GELU, exact erf form {@code 0.5 x (1 + erf(x / sqrt 2))}, written as {@code 0.5 x erfc(-x / sqrt 2)} so
     * negative tails keep their precision. GELU(-inf) is -0, the limit (the formula would give NaN).
     */
    public static double gelu(double x) {
        if (x == Double.NEGATIVE_INFINITY) return -0.0;
        return 0.5 * x * Erf.erfc(-x * INV_SQRT2);
    }

    /** {@code out[i] = op(x[i])} for floating operands. */
    public static void unary(UnaryOp op, double[] x, double[] o, int n) {
        switch (op) {
            case NEG -> { for (int i = 0; i < n; i++) o[i] = -x[i]; }
            case ABS -> { for (int i = 0; i < n; i++) o[i] = Math.abs(x[i]); }
            case EXP -> { for (int i = 0; i < n; i++) o[i] = Math.exp(x[i]); }
            case LOG -> { for (int i = 0; i < n; i++) o[i] = Math.log(x[i]); }
            case SQRT -> { for (int i = 0; i < n; i++) o[i] = Math.sqrt(x[i]); }
            case RSQRT -> { for (int i = 0; i < n; i++) o[i] = 1.0 / Math.sqrt(x[i]); }
            case TANH -> { for (int i = 0; i < n; i++) o[i] = Math.tanh(x[i]); }
            case SIGMOID -> { for (int i = 0; i < n; i++) o[i] = 1.0 / (1.0 + Math.exp(-x[i])); }
            case RELU -> { for (int i = 0; i < n; i++) o[i] = Math.max(x[i], 0.0); }
            case GELU -> { for (int i = 0; i < n; i++) o[i] = gelu(x[i]); }
            case ERF -> { for (int i = 0; i < n; i++) o[i] = Erf.erf(x[i]); }
            case SIN -> { for (int i = 0; i < n; i++) o[i] = Math.sin(x[i]); }
            case COS -> { for (int i = 0; i < n; i++) o[i] = Math.cos(x[i]); }
            case SIGN -> { for (int i = 0; i < n; i++) { double v = x[i]; o[i] = v > 0 ? 1.0 : v < 0 ? -1.0 : v == 0 ? 0.0 : v; }  /* ±0 gives +0, NaN stays */ }
            case SQUARE -> { for (int i = 0; i < n; i++) o[i] = x[i] * x[i]; }
            case RECIPROCAL -> { for (int i = 0; i < n; i++) o[i] = 1.0 / x[i]; }
            case ISFINITE -> { for (int i = 0; i < n; i++) o[i] = Double.isFinite(x[i]) ? 1.0 : 0.0; }
            case ISNAN -> { for (int i = 0; i < n; i++) o[i] = Double.isNaN(x[i]) ? 1.0 : 0.0; }
        }
    }

    /** {@code out[i] = op(x[i])} for integer operands. */
    public static void unary(UnaryOp op, long[] x, long[] o, int n, DType t) {
        switch (op) {
            case NEG -> { for (int i = 0; i < n; i++) o[i] = -x[i]; }
            case ABS -> { for (int i = 0; i < n; i++) o[i] = Math.abs(x[i]); }
            case SIGN -> { for (int i = 0; i < n; i++) o[i] = Long.signum(x[i]); }
            case SQUARE -> { for (int i = 0; i < n; i++) o[i] = x[i] * x[i]; }
            case ISFINITE -> { for (int i = 0; i < n; i++) o[i] = 1; }
            case ISNAN -> { for (int i = 0; i < n; i++) o[i] = 0; }
            case RELU -> { for (int i = 0; i < n; i++) o[i] = Math.max(x[i], 0); }
            default -> op.requireDefinedFor(t);
        }
    }

    /** {@code out[i] = op(a[i], b[i])} for floating operands; comparisons give 1 or 0. */
    public static void binary(BinaryOp op, double[] a, double[] b, double[] o, int n) {
        switch (op) {
            case ADD -> { for (int i = 0; i < n; i++) o[i] = a[i] + b[i]; }
            case SUB -> { for (int i = 0; i < n; i++) o[i] = a[i] - b[i]; }
            case MUL -> { for (int i = 0; i < n; i++) o[i] = a[i] * b[i]; }
            case DIV -> { for (int i = 0; i < n; i++) o[i] = a[i] / b[i]; }
            case POW -> { for (int i = 0; i < n; i++) o[i] = Math.pow(a[i], b[i]); }
            case MAX -> { for (int i = 0; i < n; i++) o[i] = Math.max(a[i], b[i]); }
            case MIN -> { for (int i = 0; i < n; i++) o[i] = Math.min(a[i], b[i]); }
            case EQ -> { for (int i = 0; i < n; i++) o[i] = a[i] == b[i] ? 1 : 0; }
            case NE -> { for (int i = 0; i < n; i++) o[i] = a[i] != b[i] ? 1 : 0; }
            case LT -> { for (int i = 0; i < n; i++) o[i] = a[i] < b[i] ? 1 : 0; }
            case LE -> { for (int i = 0; i < n; i++) o[i] = a[i] <= b[i] ? 1 : 0; }
            case GT -> { for (int i = 0; i < n; i++) o[i] = a[i] > b[i] ? 1 : 0; }
            case GE -> { for (int i = 0; i < n; i++) o[i] = a[i] >= b[i] ? 1 : 0; }
        }
    }

    /** {@code out[i] = op(a[i], b[i])} for integer operands; DIV truncates toward zero. */
    public static void binary(BinaryOp op, long[] a, long[] b, long[] o, int n) {
        switch (op) {
            case ADD -> { for (int i = 0; i < n; i++) o[i] = a[i] + b[i]; }
            case SUB -> { for (int i = 0; i < n; i++) o[i] = a[i] - b[i]; }
            case MUL -> { for (int i = 0; i < n; i++) o[i] = a[i] * b[i]; }
            case DIV -> {
                for (int i = 0; i < n; i++) {
                    if (b[i] == 0) throw new ArithmeticException("integer division by zero (element " + a[i] + " / 0)");
                    o[i] = a[i] / b[i];
                }
            }
            case POW -> { for (int i = 0; i < n; i++) o[i] = ipow(a[i], b[i]); }
            case MAX -> { for (int i = 0; i < n; i++) o[i] = Math.max(a[i], b[i]); }
            case MIN -> { for (int i = 0; i < n; i++) o[i] = Math.min(a[i], b[i]); }
            case EQ -> { for (int i = 0; i < n; i++) o[i] = a[i] == b[i] ? 1 : 0; }
            case NE -> { for (int i = 0; i < n; i++) o[i] = a[i] != b[i] ? 1 : 0; }
            case LT -> { for (int i = 0; i < n; i++) o[i] = a[i] < b[i] ? 1 : 0; }
            case LE -> { for (int i = 0; i < n; i++) o[i] = a[i] <= b[i] ? 1 : 0; }
            case GT -> { for (int i = 0; i < n; i++) o[i] = a[i] > b[i] ? 1 : 0; }
            case GE -> { for (int i = 0; i < n; i++) o[i] = a[i] >= b[i] ? 1 : 0; }
        }
    }

    /** Integer power by squaring (wrapping); negative exponents are refused as in PyTorch. */
    static long ipow(long base, long exp) {
        if (exp < 0) throw new ArithmeticException("integers to negative integer powers are not allowed (exponent " + exp + ")");
        long result = 1;
        while (exp > 0) {
            if ((exp & 1) != 0) result *= base;
            base *= base;
            exp >>= 1;
        }
        return result;
    }
}
