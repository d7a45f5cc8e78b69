package dev.ballast.train;

/**
 * Training stopped because it diverged: the loss read at {@link #step()} was not finite ({@link #loss()}: NaN or
 * infinite), the device-side check found a non-finite loss since the last read, or the weights to be checkpointed
 * were not finite (the checkpoint was not written; the last good one is kept).
 */
public final class DivergedException extends RuntimeException {
    private final long step;
    private final double loss;

    public DivergedException(long step, double loss) {
        super("training diverged: the loss is " + loss + " at step " + step
                + " (try a lower learning rate, gradient clipping or a different init)");
        this.step = step;
        this.loss = loss;
    }

    /** Divergence found at {@code step} by other means than reading the loss; {@code why} says what was found. */
    public DivergedException(long step, String why, Throwable cause) {
        super("training diverged by step " + step + ": " + why
                + " (try a lower learning rate, gradient clipping or a different init)", cause);
        this.step = step;
        this.loss = Double.NaN;
    }

    public long step() { return step; }

    /** The loss read, or NaN when the divergence was found otherwise. */
    public double loss() { return loss; }
}
