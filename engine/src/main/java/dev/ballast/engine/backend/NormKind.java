package dev.ballast.engine.backend;

/**
 * What a multi-tensor norm pass accumulates per tensor: sum of squares (L2), sum of |x| (L1), max |x| (INF),
 * or sum of |x|^p (P, any p > 0). The total norm is sqrt, identity, identity or the 1/p power of the combined value.
 */
public enum NormKind {
    L1, L2, INF, P;

    /** The kind for a norm type as PyTorch's clip_grad_norm_ takes it (1, 2, inf or any p > 0). */
    public static NormKind of(double p) {
        if (!(p > 0)) throw new IllegalArgumentException("norm type must be > 0 or infinity, got " + p);
        if (p == Double.POSITIVE_INFINITY) return INF;
        if (p == 1) return L1;
        if (p == 2) return L2;
        return P;
    }

    /** Turns the combined accumulator into the norm. */
    public double finish(double acc, double p) {
        return switch (this) {
            case L1, INF -> acc;
            case L2 -> Math.sqrt(acc);
            case P -> Math.pow(acc, 1 / p);
        };
    }

    /** Combines two accumulators (sum, or max for INF; NaN propagates). */
    public double combine(double a, double b) {
        if (this != INF) return a + b;
        if (Double.isNaN(a) || Double.isNaN(b)) return Double.NaN;
        return Math.max(a, b);
    }
}
