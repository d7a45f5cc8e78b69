package dev.ballast.engine.backend;

/**
 * Activation gradients in one pass: what the engine otherwise composes from a dozen elementwise ops (GELU's
 * gradient needs erf, exp, squares and products, each a pass over memory and a temporary). A {@link Backend} may
 * offer it through {@link Backend#fusedActivations()}; the engine then calls it from autograd. Operands share one
 * shape (any strides), in a floating dtype.
 */
public interface FusedActivations {

    /**
     * {@code out = g * gelu'(x)} for the exact (erf) GELU: {@code gelu'(x) = Phi(x) + x phi(x)}, with the standard
     * normal CDF {@code Phi} and density {@code phi}; the limits at the infinities (1 at +inf, 0 at -inf).
     */
    void geluBackward(Strided x, Strided g, Strided out);
}
