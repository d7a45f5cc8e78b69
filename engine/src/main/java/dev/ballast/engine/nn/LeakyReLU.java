package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** {@code x} where positive, {@code slope * x} elsewhere, as torch.nn.LeakyReLU (default slope 0.01). No parameters. */
public final class LeakyReLU extends Module {
    private final double slope;

    public LeakyReLU() { this(0.01); }

    public LeakyReLU(double slope) {
        if (!Double.isFinite(slope)) throw new IllegalArgumentException("LeakyReLU: slope must be finite, got " + slope);
        this.slope = slope;
    }

    public double slope() { return slope; }

    @Override
    protected Tensor forward(Tensor x) { return x.leakyRelu(slope); }
}
