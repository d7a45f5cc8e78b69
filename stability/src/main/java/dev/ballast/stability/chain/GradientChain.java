package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * Links composed in order: {@code GradientChain.of(clipByValue(1), clipByGlobalNorm(1), apply(adamw))}. The chain
 * means sequential composition: each link transforms the gradients as the link before it left them, exactly as a
 * PyTorch user calls {@code clip_grad_value_}, {@code clip_grad_norm_}, {@code scaler.unscale_} in that order.
 * The execution is fused where that does not change the meaning ({@link Gradients}): the gradients are read once
 * for the norm and the non-finite flag, scalar factors stay pending and go to the optimizer's own pass with the skip
 * flag, so the common chain (unscale, skip, clip by norm, apply) costs one read plus the optimizer's pass and no host
 * sync.
 *
 * <p>A chain is a {@link Link}: chains nest, and a nested chain means the same as its links spliced in place. Only
 * a chain whose last link is {@link Link#apply} can {@link #step()}. The chain owns its links' state
 * ({@link Link#init}, made at the first step) and its skip counters; {@link #stateDict()} holds both for checkpoints,
 * {@link #close()} frees them.
 */
public final class GradientChain implements Link, AutoCloseable {
    private final List<Link> links;
    private final Optimizer optimizer;           // from the last (flattened) link when it is apply, else null
    private final StepStats.SkipLimit limit;
    private LinkState state;
    private long hostSteps;                      // step() calls on this object, for links that act every N steps
    private Tensor steps, consecutive, total, limitStep, limitParam; // F64 0-d, on the device

    private GradientChain(List<Link> links, StepStats.SkipLimit limit) {
        this.links = List.copyOf(links);
        this.limit = limit;
        List<Link> flat = new ArrayList<>();
        flatten(this.links, flat);
        for (int i = 0; i < flat.size() - 1; i++)
            if (flat.get(i) instanceof Apply)
                throw new IllegalArgumentException("apply(optimizer) must be the last link, found at position " + i + " of " + flat);
        this.optimizer = !flat.isEmpty() && flat.getLast() instanceof Apply a ? a.optimizer() : null;
    }

    /** A chain of links in order; end it with {@code apply(optimizer)} to step it, or nest it in another chain. */
    public static GradientChain of(Link... links) { return of(List.of(links)); }

    /** A chain of links in order. */
    public static GradientChain of(List<Link> links) {
        if (links.isEmpty()) throw new IllegalArgumentException("a gradient chain needs at least one link");
        return new GradientChain(links, new StepStats.SkipLimit(0, List.of()));
    }

    /**
     * This chain, stopping training after {@code limit} skipped steps in a row (0: never): the next
     * {@link StepStats#read()} throws {@link TooManySkippedStepsException} naming the step and the first parameter
     * whose gradient was not finite, by its name in {@code parameterNames} (the optimizer's order; may be empty).
     * A new chain with fresh state: configure before stepping.
     */
    public GradientChain maxConsecutiveSkips(int limit, List<String> parameterNames) {
        return new GradientChain(links, new StepStats.SkipLimit(limit, parameterNames));
    }

    /** The links in order (nested chains as they were given). */
    public List<Link> links() { return links; }

    /** The optimizer of the final apply link, or null when this chain has none (it can only be nested). */
    public Optimizer optimizer() { return optimizer; }

    private static void flatten(List<Link> links, List<Link> out) {
        for (Link l : links) {
            if (l instanceof GradientChain c) flatten(c.links, out);
            else out.add(l);
        }
    }

    @Override public LinkState init(List<Tensor> params) {
        List<LinkState> children = new ArrayList<>();
        for (Link l : links) children.add(l.init(params));
        return LinkState.ofChildren(children);
    }

    @Override public void update(Gradients gradients, LinkState state) {
        if (state.children().size() != links.size())
            throw new IllegalArgumentException("chain state has " + state.children().size() + " link states for " + links.size() + " links");
        for (int i = 0; i < links.size(); i++) links.get(i).update(gradients, state.children().get(i));
    }

    @Override public boolean readsLoss() {
        for (Link l : links) if (l.readsLoss()) return true;
        return false;
    }

    @Override public boolean restoresState() {
        for (Link l : links) if (l.restoresState()) return true;
        return false;
    }

    /**
     * The live training state of every link (their state less their {@link Link#counters()}), keyed as in
     * {@link #stateDict()} without the {@code link.} prefix.
     */
    private static void trainingState(List<Link> links, LinkState state, String prefix, Map<String, Tensor> out) {
        for (int i = 0; i < links.size(); i++) {
            Link l = links.get(i);
            LinkState s = state.children().get(i);
            if (l instanceof GradientChain c) {
                trainingState(c.links, s, prefix + i + ".", out);
                continue;
            }
            java.util.Set<String> counters = l.counters();
            for (var e : s.tensors().entrySet())
                if (!counters.contains(e.getKey())) out.put(prefix + i + "." + e.getKey(), e.getValue());
        }
    }

    @Override public NonFiniteSteps nonFiniteSteps() {
        NonFiniteSteps out = NonFiniteSteps.APPLIED;
        for (Link l : links) out = out.max(l.nonFiniteSteps());
        return out;
    }

    /**
     * The live state of {@code link} (found by identity, in nested chains too), made now when the chain has not
     * stepped yet: for a caller that reads a link's counters where it syncs anyway. Throws when the link is not here.
     */
    public LinkState stateOf(Link link) {
        ensureState();
        LinkState s = find(this, state, link);
        if (s == null) throw new IllegalArgumentException("link " + link + " is not in this chain");
        return s;
    }

    private static LinkState find(GradientChain chain, LinkState state, Link link) {
        for (int i = 0; i < chain.links.size(); i++) {
            Link l = chain.links.get(i);
            LinkState s = state.children().get(i);
            if (l == link) return s;
            if (l instanceof GradientChain c) {
                LinkState inner = find(c, s, link);
                if (inner != null) return inner;
            }
        }
        return null;
    }

    @Override public OptionalDouble readsNorm() {
        for (Link l : links) {
            OptionalDouble t = l.readsNorm();
            if (t.isPresent()) return t;
        }
        return OptionalDouble.empty();
    }

    /**
     * Runs the links on the optimizer's parameters' gradients and steps; returns the statistics, on the device until
     * read. No host sync. A skipped step leaves weights, optimizer state and step counts bit-identical.
     */
    public StepStats step() { return step(null); }

    /**
     * {@link #step()} with this step's loss (0-d, on the device; no host read), for links that watch it
     * ({@link Link#readsLoss()}, e.g. the explosion guard). Under data-parallel training pass the mean over the ranks.
     */
    public StepStats step(Tensor loss) {
        if (optimizer == null)
            throw new IllegalStateException("this chain has no apply(optimizer) link at its end; it can only be nested in one that has");
        List<Tensor> params = optimizer.params();
        Device device = params.isEmpty() ? Device.auto() : params.getFirst().device();
        ensureState(params, device);
        Tensor values;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope scope = Scope.open()) {
            Map<String, Tensor> live = null, entry = null;
            if (restoresState()) {
                live = new LinkedHashMap<>();
                trainingState(links, state, "", live);
                entry = new LinkedHashMap<>();
                for (var e : live.entrySet()) entry.put(e.getKey(), e.getValue().copy());
            }
            Gradients g = new Gradients(device, params, readsNorm().orElse(2), limit.maxConsecutiveSkips() > 0, loss,
                    ++hostSteps, optimizer, live, entry);
            update(g, state);
            if (!g.applied()) throw new IllegalStateException("the chain ended without applying the optimizer");
            values = Scope.keep(record(g, device));
        }
        return new StepStats(values, limit);
    }

    /** Updates the skip counters on the device and gathers the statistics tensor. */
    private Tensor record(Gradients g, Device device) {
        Tensor s = g.skipped().to(DType.F64);
        steps.copyFrom(steps.add(1));
        consecutive.copyFrom(consecutive.add(1).mul(s));
        total.copyFrom(total.add(s));
        if (limit.maxConsecutiveSkips() > 0) {
            Tensor hit = limitStep.lt(0).mul(consecutive.ge(limit.maxConsecutiveSkips())).gt(0);
            limitParam.copyFrom(Tensor.where(hit, g.firstNonFiniteParameter(), limitParam));
            limitStep.copyFrom(Tensor.where(hit, steps, limitStep));
        }
        return Tensor.stack(List.of(g.entryNorm().to(DType.F64), g.coefficient().to(DType.F64),
                g.entryNonFinite().to(DType.F64), s, consecutive.copy(), total.copy(), limitStep.copy(), limitParam.copy()), 0);
    }

    private void ensureState(List<Tensor> params, Device device) {
        if (state != null) return;
        try (GradMode.Guard ng = GradMode.noGrad()) {
            state = init(params);
            steps = counter(device, 0);
            consecutive = counter(device, 0);
            total = counter(device, 0);
            limitStep = counter(device, -1);
            limitParam = counter(device, -1);
        }
    }

    private static Tensor counter(Device device, double v) {
        return Scope.detachFromScopes(Tensor.scalar(device, DType.F64, v));
    }

    private void ensureState() {
        if (optimizer == null) throw new IllegalStateException("state dicts belong to a chain that ends with apply(optimizer)");
        List<Tensor> params = optimizer.params();
        ensureState(params, params.isEmpty() ? Device.auto() : params.getFirst().device());
    }

    /**
     * The chain's state for a checkpoint: {@code link.<i>.<name>} for link {@code i}'s state (nested chains add
     * their own index level: {@code link.<i>.<j>.<name>}) and {@code skips.steps}, {@code skips.consecutive},
     * {@code skips.total}. The tensors are live: read them, do not write them.
     */
    public Map<String, Tensor> stateDict() {
        ensureState();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : state.flatten().entrySet()) out.put("link." + e.getKey(), e.getValue());
        out.put("skips.steps", steps);
        out.put("skips.consecutive", consecutive);
        out.put("skips.total", total);
        return out;
    }

    /** Restores {@link #stateDict()}'s entries (all of them, same shapes and dtypes; checked first). */
    public void loadStateDict(Map<String, Tensor> saved) {
        ensureState();
        Map<String, Tensor> links = new LinkedHashMap<>();
        for (var e : saved.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("link.")) links.put(k.substring(5), e.getValue());
            else if (!List.of("skips.steps", "skips.consecutive", "skips.total").contains(k))
                throw new IllegalArgumentException("chain state: unexpected entry '" + k + "' (allowed: link.<i>.<name>, skips.steps, skips.consecutive, skips.total)");
        }
        for (String k : List.of("skips.steps", "skips.consecutive", "skips.total"))
            if (!saved.containsKey(k) || saved.get(k).numel() != 1)
                throw new IllegalArgumentException("chain state: missing or malformed entry '" + k + "'");
        state.load(links);
        try (GradMode.Guard ng = GradMode.noGrad()) {
            steps.copyFrom(saved.get("skips.steps").reshape().to(DType.F64));
            consecutive.copyFrom(saved.get("skips.consecutive").reshape().to(DType.F64));
            total.copyFrom(saved.get("skips.total").reshape().to(DType.F64));
            limitStep.fill(-1);
            limitParam.fill(-1);
        }
    }

    /** Frees the links' state and the counters (not the optimizer, not a scaler owned by the caller). */
    @Override public void close() {
        if (state == null) return;
        state.close();
        for (Tensor t : List.of(steps, consecutive, total, limitStep, limitParam)) t.close();
        state = null;
    }

    @Override public String toString() { return "GradientChain" + links; }
}
