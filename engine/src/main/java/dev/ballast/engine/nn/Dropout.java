package dev.ballast.engine.nn;

import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;

/**
 * Zeroes each element with probability {@code p} in training and scales the survivors by {@code 1 / (1 - p)}
 * (inverted dropout), so eval mode is the identity. The mask comes from this layer's {@link Generator}: the
 * same seed and the same sequence of calls give the same masks on every backend.
 */
public final class Dropout extends Module {
    private final double p;
    private final Generator gen;

    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("Dropout: p must be in [0, 1], got " + p);
        this.p = p;
        this.gen = java.util.Objects.requireNonNull(gen, "Dropout: generator is null");
    }

    public double p() { return p; }

    public Generator generator() { return gen; }

    @Override
    protected Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) return x;
        if (p == 1) return x.mul(0.0);
        Tensor scale;
        try (GradMode.Guard g = GradMode.noGrad(); Tensor u = Tensor.rand(gen, x.device(), x.shape()); Tensor keep = u.ge(p)) {
            // a constant of the graph (the mul below keeps it for backward), in x's dtype so halves stay halves
            // and the 1/(1-p) factor keeps x's precision
            Tensor k = keep.to(x.dtype());
            scale = k.mul(1 / (1 - p));
            if (k != keep) k.close();
        }
        return x.mul(scale);
    }
}
