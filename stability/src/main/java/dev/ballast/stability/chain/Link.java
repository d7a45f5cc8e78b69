package dev.ballast.stability.chain;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.scale.GradScaler;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * One gradient transformation in a {@link GradientChain}, with explicit state as in optax: {@link #init} makes the
 * link's state once, {@link #update} transforms the gradients as they leave the link before it and updates the
 * state, in place and on the device. A chain is itself a link, so chains nest.
 *
 * <p>Writing a link needs nothing from the library but this interface. A link that keeps the running mean of the
 * gradient norm and clips to twice that mean:
 * <pre>{@code
 * Link clipToTwiceMean = new Link() {
 *     public LinkState init(List<Tensor> params) {
 *         Device d = params.getFirst().device();
 *         return LinkState.of(Map.of("mean", Tensor.zeros(d, DType.F32), "count", Tensor.zeros(d, DType.F32)));
 *     }
 *     public void update(Gradients g, LinkState s) {
 *         Tensor norm = g.norm(2), mean = s.get("mean"), count = s.get("count");
 *         Tensor limit = Tensor.where(count.gt(0), mean.mul(2), norm);          // nothing to compare with yet
 *         g.clip(limit.div(norm.add(1e-6)).minimum(1.0));                       // pending: folded into the optimizer
 *         Tensor keep = g.skipFlag().add(g.nonFinite()).gt(0);                  // leave the state alone on a skip
 *         Tensor n = count.add(1);
 *         mean.copyFrom(Tensor.where(keep, mean, mean.add(norm.sub(mean).div(n))));
 *         count.copyFrom(Tensor.where(keep, count, n));
 *     }
 *     public OptionalDouble readsNorm() { return OptionalDouble.of(2); }
 * };
 * GradientChain.of(Link.skipIfNonFinite(), clipToTwiceMean, Link.apply(adamw));
 * }</pre>
 * The chain saves every link's state in checkpoints ({@link GradientChain#stateDict()}) and frees it on close.
 * {@link Gradients} keeps the built-in links' fast path for any link written this way: scalar factors stay pending
 * and norms come from the last read pass; only {@link Gradients#tensors()} makes the gradients concrete.
 */
public interface Link {

    /** This link's state for the optimizer's parameters (optax {@code init}); stateless links keep the default. */
    default LinkState init(List<Tensor> params) { return LinkState.empty(); }

    /** Transforms {@code gradients} where this link stands and updates {@code state} in place (optax {@code update}). */
    void update(Gradients gradients, LinkState state);

    /**
     * The norm type this link reads, when it is norm-based: the chain's first read pass computes the norm type of
     * the first norm-based link, so that link reads no gradients of its own, and {@code StepStats.norm} is of that type.
     */
    default OptionalDouble readsNorm() { return OptionalDouble.empty(); }

    /**
     * Whether this link reads the loss ({@link Gradients#loss()}): under data-parallel training the trainer then
     * averages the loss over the ranks on the device before the chain runs, so every rank decides alike.
     */
    default boolean readsLoss() { return false; }

    /**
     * The names of this link's state entries that count what happened (events, skipped steps) rather than shape the
     * steps to come: a rollback to an earlier training state leaves them as they are. Everything else in the state
     * (scales, averages, histories) is training state and is rolled back with the weights.
     */
    default Set<String> counters() { return Set.of(); }

    /**
     * Whether this link may restore an earlier training state (a rollback): the chain then gives it copies of every
     * link's training state as it was when the step began ({@link Gradients#chainStateAtEntry()}), since the links
     * before it update theirs during the step.
     */
    default boolean restoresState() { return false; }

    /** What a chain does with a step whose gradients or loss are NaN or infinite. */
    enum NonFiniteSteps {
        /** Applies it: the weights take the non-finite values. */
        APPLIED,
        /** Skips it: weights and optimizer state stay as they were (a non-finite loss from bad weights recurs). */
        SKIPPED,
        /** Keeps it out and restores a good state, so a non-finite loss need not end the run (the explosion guard). */
        RECOVERED;

        /** The stronger of the two answers (a chain answers as its strongest link). */
        public NonFiniteSteps max(NonFiniteSteps o) { return compareTo(o) >= 0 ? this : o; }
    }

    /**
     * How this link answers non-finite steps; the trainer stops a run on a non-finite loss only when its chain
     * answers {@link NonFiniteSteps#APPLIED} (a chain answers as its strongest link).
     */
    default NonFiniteSteps nonFiniteSteps() { return NonFiniteSteps.APPLIED; }

    /**
     * Divides gradients by the scaler's loss scale; the non-finite flag of the gradients where this link stands is
     * the scaler's overflow flag, as {@code scaler.unscale_(optimizer)} records it: the step is skipped when it is
     * set and the scaler's scale is updated from it (backed off, or grown after enough finite steps).
     */
    static Link unscale(GradScaler scaler) { return new Unscale(scaler); }

    /** Multiplies every gradient by {@code factor} (e.g. 1/1024), nothing else: no flag, no skip. */
    static Link scaleBy(double factor) { return new ScaleBy(factor); }

    /** Clamps every gradient element to [-value, value] where it stands ({@code clip_grad_value_}). */
    static Link clipByValue(double value) { return new ClipByValue(value); }

    /** Clips the global L2 norm to {@code maxNorm} ({@code clip_grad_norm_}). */
    static Link clipByGlobalNorm(double maxNorm) { return new ClipByGlobalNorm(maxNorm, 2.0); }

    /** Clips the global norm of type {@code normType} to {@code maxNorm} ({@code clip_grad_norm_}). */
    static Link clipByGlobalNorm(double maxNorm, double normType) { return new ClipByGlobalNorm(maxNorm, normType); }

    /** AGC with NFNets' default eps 1e-3; {@code clipping} is the allowed gradient/weight norm ratio (e.g. 0.01). */
    static Link adaptiveClip(double clipping) { return new AdaptiveClip(clipping, 1e-3); }

    /** Unit-wise adaptive gradient clipping ({@code ClipGrad.adaptiveClipGrad}) where it stands. */
    static Link adaptiveClip(double clipping, double eps) { return new AdaptiveClip(clipping, eps); }

    /**
     * ZClip (Kumar et al. 2025): clips the global L2 norm where it spikes, its z-score against an exponential moving
     * average of the norm's mean and variance passing {@code zThreshold}; the paper's alpha 0.97 and 25 warm-up steps.
     */
    static Link zClip(double zThreshold) { return new ZClip(zThreshold, 0.97, 25); }

    /**
     * AutoClip (Seetharaman et al. 2020): clips the global L2 norm at the {@code percentile}-th percentile of the norms
     * seen so far (the last 10,000; the window keeps the state a fixed size for checkpoints).
     */
    static Link autoClip(double percentile) { return new AutoClip(percentile, AutoClip.DEFAULT_HISTORY); }

    /** Skips the whole step when any gradient value where this link stands is NaN or infinite. */
    static Link skipIfNonFinite() { return new SkipIfNonFinite(); }

    /** The optimizer's update with the pending factor and skip flag; must be the last link. */
    static Link apply(Optimizer optimizer) { return new Apply(optimizer); }
}
