package dev.ballast.engine.backend;

/**
 * Activation gradients in one pass: what the engine otherwise composes from a dozen elementwise ops (GELU's
 * gradient needs erf, exp, squares and products, each a pass over memory and a temporary; softmax's a product, a
 * row sum, a difference and another product). A {@link Backend} may offer it through
 * {@link Backend#fusedActivations()}; the engine then calls it from autograd. Operands are in a floating dtype.
 */
public interface FusedActivations {

    /**
     * {@code out = g * gelu'(x)} for the exact (erf) GELU: {@code gelu'(x) = Phi(x) + x phi(x)}, with the standard
     * normal CDF {@code Phi} and density {@code phi}; the limits at the infinities (1 at +inf, 0 at -inf).
     */
    void geluBackward(Strided x, Strided g, Strided out);

    /**
     * The gradient of {@link Backend#softmax} over {@code rows} rows of length {@code n}, given the forward output
     * {@code y} and the output's gradient {@code g}: {@code out = y (g - sum_row(g y))}, or for log-softmax
     * {@code out = g - exp(y) sum_row(g)}. {@code y}, {@code g} and {@code out} are contiguous, of one dtype.
     */
    void softmaxBackward(Strided y, Strided g, long rows, long n, boolean log, Strided out);

    /**
     * ReLU's gradient {@code out = g * (x > 0 ? 1 : 0)}, bit for bit the product of {@code g} and the 0/1 mask that
     * autograd composes otherwise (so a NaN or infinite {@code g} where {@code x <= 0} still gives NaN). {@code x},
     * {@code g} and {@code out} are of one shape and one dtype, F32 or F64.
     */
    void reluBackward(Strided x, Strided g, Strided out);

    /**
     * tanh's gradient from its output {@code y}: {@code out = g * (1 - y * y)}, each operation rounded in the dtype as
     * the composed ops round it. {@code y}, {@code g} and {@code out} are of one shape and one dtype, F32 or F64.
     */
    void tanhBackward(Strided y, Strided g, Strided out);
}
