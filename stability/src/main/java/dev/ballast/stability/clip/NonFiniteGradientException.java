package dev.ballast.stability.clip;

/** Thrown by clipGradNorm(errorIfNonfinite=true) when a gradient holds NaN or infinity; names the parameter. */
public final class NonFiniteGradientException extends ArithmeticException {
    private final int parameterIndex;

    public NonFiniteGradientException(int parameterIndex, double normType) {
        super("the total norm of order " + normType + " for gradients is non-finite: parameter " + parameterIndex
                + " holds NaN or infinity, so clipping was not done (set errorIfNonfinite=false to clip anyway)");
        this.parameterIndex = parameterIndex;
    }

    /** Index in the parameter list of the first parameter whose gradient holds a non-finite value. */
    public int parameterIndex() { return parameterIndex; }
}
