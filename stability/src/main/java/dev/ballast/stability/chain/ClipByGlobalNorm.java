package dev.ballast.stability.chain;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.NormKind;
import java.util.OptionalDouble;

/**
 * {@link Link#clipByGlobalNorm}: multiplies all gradients by {@code min(maxNorm / (norm + 1e-6), 1)}, the norm taken
 * over all gradients together as they stand here ({@code clip_grad_norm_}). The coefficient stays pending.
 */
public record ClipByGlobalNorm(double maxNorm, double normType) implements Link {
    public ClipByGlobalNorm {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("clipByGlobalNorm: maxNorm must be >= 0, got " + maxNorm);
        NormKind.of(normType);
    }

    @Override public void update(Gradients g, LinkState state) {
        Tensor norm = g.norm(normType);
        g.clip(norm.add(1e-6).rdiv(maxNorm).minimum(1.0));
    }

    @Override public OptionalDouble readsNorm() { return OptionalDouble.of(normType); }
}
