package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.clip.GradNorm;
import java.util.List;

/**
 * Runs a list of {@link Link}s as one step: {@code GradientChain.of(clipByGlobalNorm(1.0), apply(adamw))}.
 * The gradients are read once for the norm and the non-finite check; the clip coefficient (times the inverse
 * loss scale when unscaling) and the skip flag stay on the device and go to the optimizer's step, which applies
 * them in its own pass. Returns {@code [norm, coefficient, nonFinite]} on the device; the norm is that of the
 * unscaled gradients, and without a clip link the coefficient entry is informational (nothing is scaled).
 */
public final class GradientChain {
    private final List<Link> links;
    private final Optimizer optimizer;

    private GradientChain(List<Link> links) {
        if (links.isEmpty() || !(links.getLast() instanceof Link.Apply apply))
            throw new IllegalArgumentException("a gradient chain must end with apply(optimizer), got " + links);
        for (int i = 0; i < links.size() - 1; i++)
            if (links.get(i) instanceof Link.Apply)
                throw new IllegalArgumentException("apply(optimizer) must be the last link, found at position " + i);
        this.links = List.copyOf(links);
        this.optimizer = apply.optimizer();
    }

    /** A chain of links, the last being {@code apply(optimizer)}. */
    public static GradientChain of(Link... links) { return new GradientChain(List.of(links)); }

    /** The links in order. */
    public List<Link> links() { return links; }

    /** Transforms the optimizer's parameters' gradients and steps; returns the device-side step statistics. */
    public Tensor step() {
        List<Tensor> params = optimizer.params();
        List<Tensor> grads = GradNorm.gradients(params);
        Device device = params.isEmpty() ? Device.auto() : params.getFirst().device();
        Link.Unscale unscale = null;
        double maxNorm = Double.POSITIVE_INFINITY, normType = 2;
        boolean skipNonFinite = false;
        Tensor stats;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope scope = Scope.open()) {
            Tensor inv = null;
            for (Link l : links) {
                switch (l) {
                    case Link.Unscale u -> {
                        unscale = u;
                        skipNonFinite = true;
                        inv = u.scaler().inverseScale();
                    }
                    case Link.ClipByValue v -> {
                        // value clipping acts on unscaled values, so it bounds in the scaled domain by value * scale
                        Tensor bound = inv == null ? null : unscale.scaler().scale().mul(v.value());
                        for (Tensor g : grads)
                            g.copyFrom(bound == null ? g.clamp(-v.value(), v.value()) : g.maximum(bound.neg()).minimum(bound));
                    }
                    case Link.ClipByGlobalNorm c -> {
                        maxNorm = c.maxNorm();
                        normType = c.normType();
                    }
                    case Link.AdaptiveClip a -> {
                        if (inv != null) for (Tensor g : grads) g.mulInPlace(inv); // AGC compares unscaled gradients
                        dev.ballast.stability.clip.ClipGrad.adaptiveClipGrad(params, a.clipping(), a.eps());
                        if (inv != null) {
                            for (Tensor g : grads) g.mulInPlace(unscale.scaler().scale());
                        }
                    }
                    case Link.SkipIfNonFinite s -> skipNonFinite = true;
                    case Link.Apply a -> { }
                }
            }
            boolean clip = !Double.isInfinite(maxNorm);
            if (inv == null) {
                // the finish kernel's coefficient is the one to apply: nothing left to compute here
                stats = Scope.keep(GradNorm.compute(device, grads, clip ? maxNorm : Double.POSITIVE_INFINITY, normType, null));
                Tensor coef = clip ? stats.narrow(0, GradNorm.COEFFICIENT, 1).reshape() : null;
                Tensor flag = stats.narrow(0, GradNorm.NON_FINITE, 1).reshape();
                optimizer.stepAsync(coef, skipNonFinite ? flag : null);
            } else {
                // with loss scaling the norm and coefficient refer to the unscaled gradients
                Tensor raw = GradNorm.compute(device, grads, Double.POSITIVE_INFINITY, normType, null);
                Tensor norm = raw.narrow(0, GradNorm.NORM, 1).reshape().mul(inv);
                Tensor flag = raw.narrow(0, GradNorm.NON_FINITE, 1).reshape();
                Tensor coef = (clip ? norm.add(1e-6).rdiv(maxNorm).minimum(1.0) : Tensor.ones(device, DType.F32)).mul(inv);
                optimizer.stepAsync(coef, flag);
                unscale.scaler().update(flag);
                stats = Scope.keep(Tensor.stack(List.of(norm, coef, flag), 0));
            }
        }
        return stats;
    }
}
