package dev.ballast.stability.chain;

import dev.ballast.engine.optim.Optimizer;

/**
 * {@link Link#apply}: the optimizer's step, taking the pending factor as its coefficient and the skip flag, both on
 * the device, so a fused optimizer applies them in its own pass. Must be the last link of the outermost chain.
 */
public record Apply(Optimizer optimizer) implements Link {
    public Apply {
        java.util.Objects.requireNonNull(optimizer, "apply: optimizer");
    }

    @Override public void update(Gradients g, LinkState state) { g.applyTo(optimizer); }
}
