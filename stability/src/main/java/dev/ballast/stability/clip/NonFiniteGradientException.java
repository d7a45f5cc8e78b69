package dev.ballast.stability.clip;

/** Thrown by clipGradNorm(errorIfNonfinite=true) when a gradient holds NaN or infinity; names the parameter. */
public final class NonFiniteGradientException extends ArithmeticException {
    private final int parameterIndex;

    private final String parameterName;

    public NonFiniteGradientException(int parameterIndex, String parameterName, double normType) {
        super("the total norm of order " + normType + " for gradients is non-finite: " + parameterName
                + " holds NaN or infinity, so clipping was not done (set errorIfNonfinite=false to clip anyway)");
        this.parameterIndex = parameterIndex;
        this.parameterName = parameterName;
    }

    /** The parameter's name, or "parameter N" when clipping was given a plain list. */
    public String parameterName() { return parameterName; }

    /** Index in the parameter list of the first parameter whose gradient holds a non-finite value. */
    public int parameterIndex() { return parameterIndex; }
}
