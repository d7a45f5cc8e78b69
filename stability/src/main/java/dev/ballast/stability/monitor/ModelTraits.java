package dev.ballast.stability.monitor;

/**
 * What the diagnosis knows of the model and the run, to pick cures that apply: recurrent or not, gated cells,
 * residual connections, normalization layers, the activation ({@code tanh}, {@code sigmoid}, {@code relu}, ...),
 * the learning rate, the global-norm clip in force (0 = none) and whether loss scaling (mixed precision) is on.
 */
public record ModelTraits(boolean recurrent, boolean gated, boolean residual, boolean normalized, String activation,
                          double lr, double clip, boolean lossScaling) {
    /** Nothing known: every generic cure is offered. */
    public static ModelTraits unknown(double lr) { return new ModelTraits(false, false, false, false, "", lr, 0, false); }

    boolean saturating() { return activation.equals("tanh") || activation.equals("sigmoid") || (recurrent && !gated); }
}
