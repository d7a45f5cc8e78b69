package dev.ballast.stability.monitor;

/**
 * One parameter's gradient statistics at one step, read back from the device. Norms are L2 over the finite values;
 * {@code updateRatio} is {@code ||w_after - w_before|| / ||w_before||} of the step that used this gradient (NaN where
 * it was not measured, e.g. when the step was skipped). Gradients read under a loss scale are reported divided by it
 * (norm, largest |g| and histogram; see {@link GradStats}), so the numbers mean the same in every precision.
 */
public record ParamStats(String name, long numel, double gradNorm, double weightNorm, double maxAbsGrad, long zeros,
                         long nonFinite, double updateRatio, Log2Histogram histogram) {

    /** Fraction of the gradient's values that are exactly zero. */
    public double zeroFraction() { return numel == 0 ? 0 : (double) zeros / numel; }

    /** Fraction of the gradient's values that are NaN or infinite. */
    public double nonFiniteFraction() { return numel == 0 ? 0 : (double) nonFinite / numel; }

    /** The same statistics with the update-to-weight ratio measured. */
    public ParamStats withUpdateRatio(double r) {
        return new ParamStats(name, numel, gradNorm, weightNorm, maxAbsGrad, zeros, nonFinite, r, histogram);
    }
}
