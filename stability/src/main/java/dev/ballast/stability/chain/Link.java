package dev.ballast.stability.chain;

import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.scale.GradScaler;

/**
 * One gradient transformation in a {@link GradientChain} (the optax idea: small links composed in order).
 * The chain fuses them: one read pass computes the norm and the non-finite flag, and the optimizer's own pass
 * applies the resulting coefficient and honours the skip flag.
 */
public sealed interface Link {

    /** Divide gradients by the scaler's loss scale, skip non-finite steps, and update the scale afterwards. */
    record Unscale(GradScaler scaler) implements Link {}

    /** Clamp every gradient element to [-value, value] (applied in place where it stands in the chain). */
    record ClipByValue(double value) implements Link {
        public ClipByValue {
            if (!(value >= 0)) throw new IllegalArgumentException("clipByValue: value must be >= 0, got " + value);
        }
    }

    /** Scale all gradients by min(maxNorm / (norm + 1e-6), 1) with the norm of all gradients together. */
    record ClipByGlobalNorm(double maxNorm, double normType) implements Link {
        public ClipByGlobalNorm {
            if (!(maxNorm >= 0)) throw new IllegalArgumentException("clipByGlobalNorm: maxNorm must be >= 0, got " + maxNorm);
            dev.ballast.engine.backend.NormKind.of(normType);
        }
    }

    /** Unit-wise adaptive gradient clipping (AGC), see {@code ClipGrad.adaptiveClipGrad}; applied where it stands. */
    record AdaptiveClip(double clipping, double eps) implements Link {
        public AdaptiveClip {
            if (!(clipping > 0)) throw new IllegalArgumentException("adaptiveClip: clipping must be > 0, got " + clipping);
            if (!(eps >= 0)) throw new IllegalArgumentException("adaptiveClip: eps must be >= 0, got " + eps);
        }
    }

    /** Leave weights and optimizer state untouched when any gradient holds NaN or infinity. */
    record SkipIfNonFinite() implements Link {}

    /** The update itself; must be the last link. */
    record Apply(Optimizer optimizer) implements Link {}

    static Link unscale(GradScaler scaler) { return new Unscale(scaler); }

    static Link clipByValue(double value) { return new ClipByValue(value); }

    static Link clipByGlobalNorm(double maxNorm) { return new ClipByGlobalNorm(maxNorm, 2.0); }

    static Link clipByGlobalNorm(double maxNorm, double normType) { return new ClipByGlobalNorm(maxNorm, normType); }

    /** AGC with NFNets' default eps 1e-3; {@code clipping} is the allowed gradient/weight norm ratio (e.g. 0.01). */
    static Link adaptiveClip(double clipping) { return new AdaptiveClip(clipping, 1e-3); }

    static Link skipIfNonFinite() { return new SkipIfNonFinite(); }

    static Link apply(Optimizer optimizer) { return new Apply(optimizer); }
}
