package dev.ballast.engine.backend;

/**
 * Layer normalization in one pass over each row, forward and backward, with the row statistics saved by the forward
 * pass: what the engine otherwise composes from a mean, a difference, a square, another mean, a reciprocal square
 * root and two products (each a pass over memory and a temporary, and each with its own backward). A
 * {@link Backend} may offer it through {@link Backend#fusedNorms()}; the engine then calls it from
 * {@code LayerNorm}. Operands are contiguous; {@code x}, {@code y}, {@code g}, {@code dx} are {@code [rows, n]}
 * and {@code weight}, {@code bias}, {@code dweight}, {@code dbias} {@code [n]}, all of one floating dtype (F32 or
 * F64); the statistics {@code mean} and {@code rstd} are F64 {@code [rows]}.
 */
public interface FusedNorms {

    /**
     * {@code y = (x - mean) rstd weight + bias} per row, with the row's mean, its biased variance {@code var} and
     * {@code rstd = 1/sqrt(var + eps)} written to {@code mean} and {@code rstd}. {@code weight} and {@code bias}
     * may be null (no affine part).
     */
    void layerNorm(Strided x, Strided weight, Strided bias, long rows, long n, double eps, Strided y, Strided mean, Strided rstd);

    /**
     * The gradients of {@link #layerNorm} given the output's gradient {@code g}: with {@code xhat = (x - mean) rstd}
     * and {@code gw = g weight}, {@code dx = rstd (gw - mean_row(gw) - xhat mean_row(gw xhat))},
     * {@code dweight = sum_rows(g xhat)}, {@code dbias = sum_rows(g)}. {@code weight} may be null (then
     * {@code gw = g}); {@code dx}, {@code dweight} and {@code dbias} may each be null when not needed.
     */
    void layerNormBackward(Strided x, Strided weight, Strided mean, Strided rstd, Strided g, long rows, long n,
                           Strided dx, Strided dweight, Strided dbias);
}
