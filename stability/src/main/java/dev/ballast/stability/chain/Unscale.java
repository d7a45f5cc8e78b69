package dev.ballast.stability.chain;

import dev.ballast.engine.Tensor;
import dev.ballast.stability.scale.GradScaler;
import java.util.List;

/**
 * {@link Link#unscale}: the scaler's overflow flag is the non-finite flag where this link stands (a later link that
 * clamps or rescales cannot hide an overflow from the scaler); the step is skipped when it is set, and the scale is
 * updated from it. The state is the scaler's own (scale and growth tracker), saved with the chain.
 */
public record Unscale(GradScaler scaler) implements Link {
    public Unscale {
        java.util.Objects.requireNonNull(scaler, "unscale: scaler");
    }

    @Override public LinkState init(List<Tensor> params) { return LinkState.borrowed(scaler.stateTensors()); }

    @Override public void update(Gradients g, LinkState state) {
        Tensor overflow = g.nonFinite();
        g.unscale(scaler.inverseScale());
        g.skipIf(overflow);
        scaler.update(overflow);
    }

    /** The count of overflow steps is the run's record, kept by a rollback; the scale and its counters roll back. */
    @Override public java.util.Set<String> counters() { return java.util.Set.of("skipped_steps"); }

    @Override public NonFiniteSteps nonFiniteSteps() { return NonFiniteSteps.SKIPPED; }
}
