package dev.ballast.stability.chain;

/** {@link Link#skipIfNonFinite}: skips the step when a gradient value here is NaN or infinite (optax apply_if_finite). */
public record SkipIfNonFinite() implements Link {
    @Override public void update(Gradients g, LinkState state) { g.skipIf(g.nonFinite()); }

    @Override public NonFiniteSteps nonFiniteSteps() { return NonFiniteSteps.SKIPPED; }
}
