package dev.ballast.stability.chain;

import dev.ballast.engine.Tensor;
import java.util.List;

/**
 * What one {@link GradientChain#step()} did, kept on the device until read: {@link #read()} (and each accessor,
 * which calls it) copies the numbers to the host, which waits for the device to finish the step. That is the one
 * sync; read at a logging interval, not every step, to keep training free of host round-trips.
 *
 * <p>Reading also enforces the chain's limit of consecutive skipped steps: when it was reached at any step up to
 * this one, {@link #read()} throws {@link TooManySkippedStepsException} naming that step and the first parameter
 * whose gradient was not finite.
 *
 * @param values the device tensor (F64, 8 elements: norm, coefficient, nonFinite, skipped, consecutive skips,
 *               total skips, the step at which the skip limit was reached or -1, that step's first non-finite
 *               parameter or -1); it belongs to the scope that was open around the step
 * @param limit  the chain's skip limit (0: none) and parameter names, for the error
 */
public record StepStats(Tensor values, SkipLimit limit) {

    /** The chain's limit of consecutive skipped steps (0: none) and the names of its parameters (may be empty). */
    public record SkipLimit(int maxConsecutiveSkips, List<String> parameterNames) {
        public SkipLimit {
            if (maxConsecutiveSkips < 0) throw new IllegalArgumentException("maxConsecutiveSkips must be >= 0, got " + maxConsecutiveSkips);
            parameterNames = List.copyOf(parameterNames);
        }

        String name(int index) {
            return index < parameterNames.size() ? "parameter " + index + " '" + parameterNames.get(index) + "'" : "parameter " + index;
        }
    }

    /**
     * The numbers, on the host.
     *
     * @param norm             the global norm of the gradients as they entered the chain (the norm type of the first
     *                         norm-based link, else L2), divided by the loss scale when an unscale link is present
     * @param coefficient      the product of the scalar factors that norm-based links applied (1 when none)
     * @param nonFinite        whether any gradient value entering the chain was NaN or infinite
     * @param skipped          whether the step was skipped (weights and optimizer state untouched)
     * @param consecutiveSkips skipped steps in a row, this one included, kept on the device across steps
     * @param totalSkips       skipped steps since the chain was made (or restored from a checkpoint)
     */
    public record Values(double norm, double coefficient, boolean nonFinite, boolean skipped,
                         long consecutiveSkips, long totalSkips) {}

    /** Copies the statistics to the host (a device sync) and checks the skip limit. */
    public Values read() {
        double[] v = values.toDoubleArray();
        if (v[6] >= 0) {
            int param = (int) v[7];
            throw new TooManySkippedStepsException((long) v[6], limit.maxConsecutiveSkips(), param,
                    param >= 0 ? limit.name(param) : null);
        }
        return new Values(v[0], v[1], v[2] != 0, v[3] != 0, (long) v[4], (long) v[5]);
    }

    /** {@link Values#norm()}; a sync. */
    public double norm() { return read().norm(); }

    /** {@link Values#coefficient()}; a sync. */
    public double coefficient() { return read().coefficient(); }

    /** {@link Values#nonFinite()}; a sync. */
    public boolean nonFinite() { return read().nonFinite(); }

    /** {@link Values#skipped()}; a sync. */
    public boolean skipped() { return read().skipped(); }
}
