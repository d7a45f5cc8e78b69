package dev.ballast.train.builtin;

/** Training stopped because the loss read at {@link #step()} was not finite ({@link #loss()}: NaN or infinite). */
public final class DivergedException extends RuntimeException {
    private final long step;
    private final double loss;

    public DivergedException(long step, double loss) {
        super("training diverged: the loss is " + loss + " at step " + step
                + " (try a lower learning rate, gradient clipping or a different init)");
        this.step = step;
        this.loss = loss;
    }

    public long step() { return step; }

    public double loss() { return loss; }
}
