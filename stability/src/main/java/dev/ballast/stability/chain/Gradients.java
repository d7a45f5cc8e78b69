package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.clip.GradNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The gradients at one point of a {@link GradientChain}, as a {@link Link} sees them: each link transforms them
 * as they leave the link before it. Everything here stays on the device; no method reads a value on the host.
 *
 * <p>The chain is lazy where that changes nothing but cost. Scalar factors ({@link #scale}, {@link #clip}) are not
 * applied to the gradients right away but kept pending and folded into the optimizer's own pass; {@link #norm} and
 * {@link #nonFinite} answer from the last read pass times the pending factor instead of reading the gradients again.
 * {@link #tensors()} applies the pending factor first, so a link that rewrites gradients element by element always
 * sees them exactly as the links before it left them. So the common chain (unscale, skip, clip by norm, apply)
 * reads the gradients once and writes them in the optimizer's pass, and every order means what it says.
 *
 * <p>One assumption: a pending factor keeps finite gradients finite (clip coefficients are at most 1, and an
 * inverse loss scale is small), so {@link #nonFinite} only adds the factor's own finiteness to the last pass's flag.
 */
public final class Gradients {
    private final Device device;
    private final List<Tensor> params;
    private final List<Tensor> grads;     // gradients that exist and hold elements, in parameter order
    private final int[] paramIndex;       // grads.get(k) belongs to params.get(paramIndex[k])
    private Tensor factor;                // pending scalar factor (0-d F32), null = 1
    private Tensor clipProduct;           // product of the coefficients applied by clip(), null = 1
    private Tensor skip;                  // 0-d F32, 1 = skip the step; null = never
    private Tensor lrFactor;              // 0-d F32, the learning rate times this for the step; null = 1
    private Tensor inverseLossScale;      // set by a loss-scaling link, for StepStats.norm
    private boolean applied;
    // the last read pass over the gradients as they are in memory (factor not included)
    private Tensor passNorm, passFlag;
    private double passNormType = Double.NaN;
    private final Tensor entryNorm, entryFlag, entryPerTensor;
    private final Tensor loss;            // 0-d, as given to the chain's step (may be null)
    private final long step;              // 1-based count of the chain's steps, on the host
    private final Optimizer optimizer;    // the chain's, applied by its last link
    private final Map<String, Tensor> chainState, chainStateAtEntry; // null unless a link restores state

    Gradients(Device device, List<Tensor> params, double entryNormType, boolean perTensor, Tensor loss, long step,
              Optimizer optimizer, Map<String, Tensor> chainState, Map<String, Tensor> chainStateAtEntry) {
        this.chainState = chainState;
        this.chainStateAtEntry = chainStateAtEntry;
        this.device = device;
        this.params = List.copyOf(params);
        this.loss = loss == null ? null : checkScalar(loss.detach(), "loss");
        this.step = step;
        this.optimizer = optimizer;
        List<Tensor> gs = new ArrayList<>();
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor g = params.get(i).grad();
            if (g != null && g.numel() > 0) {
                gs.add(g);
                idx.add(i);
            }
        }
        grads = gs;
        paramIndex = idx.stream().mapToInt(Integer::intValue).toArray();
        entryPerTensor = perTensor && !grads.isEmpty() ? Tensor.empty(device, DType.F64, grads.size()) : null;
        readPass(entryNormType, entryPerTensor);
        entryNorm = passNorm;
        entryFlag = passFlag;
    }

    /** The device everything lives on. */
    public Device device() { return device; }

    /**
     * The loss of this step as given to {@code GradientChain.step(loss)}, a 0-d F32 device tensor (the mean over the
     * ranks under data-parallel training), or null when the step was given none. Links that read it say so with
     * {@link Link#readsLoss()}.
     */
    public Tensor loss() { return loss; }

    /**
     * This step's number, counted on the host by the chain (1 for its first step; a chain restored from a checkpoint
     * counts again from 1): for links that do something every N steps without reading the device.
     */
    public long step() { return step; }

    /**
     * The optimizer the chain's last link applies: its state tensors are the device memory a rollback restores
     * (read them with {@code optimizer.stateTensors()}, which does not sync).
     */
    public Optimizer optimizer() { return optimizer; }

    /**
     * The live training state of every link of the chain (each link's state less its {@link Link#counters()}), keyed
     * {@code <i>.<name>} as in the chain's state dict: what a rollback restores besides weights and optimizer state.
     * Given only to chains with a link that {@link Link#restoresState()}; otherwise empty.
     */
    public Map<String, Tensor> chainState() { return chainState == null ? Map.of() : chainState; }

    /**
     * Copies of {@link #chainState()} as they were when this step began, before any link updated its state (a loss
     * scaler's unscale link moves its scale before later links run): the consistent state to snapshot with the
     * weights. Empty unless a link {@link Link#restoresState()}.
     */
    public Map<String, Tensor> chainStateAtEntry() { return chainStateAtEntry == null ? Map.of() : chainStateAtEntry; }

    /** The parameters the gradients belong to (the optimizer's), in order; some may have no gradient. */
    public List<Tensor> params() { return params; }

    /**
     * The gradients as they stand here, to read or rewrite in place (only those that exist and hold elements).
     * Applies the pending scalar factor first, and forgets the last read pass, since the caller may change them.
     */
    public List<Tensor> tensors() {
        checkNotApplied();
        if (factor != null) {
            scaleInPlace(factor);
            factor = null;
        }
        passNorm = passFlag = null;
        passNormType = Double.NaN;
        return grads;
    }

    /**
     * The global norm of type {@code normType} (2, 1, any p > 0, or infinity) of the gradients as they stand here,
     * a 0-d F32 device tensor. Reads the gradients only when the last read pass was of another norm type or the
     * gradients were rewritten since.
     */
    public Tensor norm(double normType) {
        checkNotApplied();
        if (passNorm == null || Double.compare(passNormType, normType) != 0) readPass(normType, null);
        return factor == null ? passNorm : passNorm.mul(factor.abs());
    }

    /** 1 (0-d F32 on the device) when any gradient value here is NaN or infinite, else 0. */
    public Tensor nonFinite() {
        checkNotApplied();
        if (passFlag == null) readPass(Double.isNaN(passNormType) ? 2 : passNormType, null);
        return factor == null ? passFlag : passFlag.maximum(factor.isFinite().rsub(1));
    }

    /** Multiplies every gradient by {@code factor} (0-d device tensor); folded into the next pass that writes them. */
    public void scale(Tensor factor) {
        checkNotApplied();
        Tensor f = checkScalar(factor, "scale factor");
        this.factor = this.factor == null ? f : this.factor.mul(f);
    }

    /** Like {@link #scale}, for the coefficient of a norm-based clip: it is counted in {@code StepStats.coefficient}. */
    public void clip(Tensor coefficient) {
        scale(coefficient);
        Tensor c = checkScalar(coefficient, "clip coefficient");
        clipProduct = clipProduct == null ? c : clipProduct.mul(c);
    }

    /** Skips the whole step when {@code flag} (0-d device tensor) is non-zero: the optimizer then changes nothing. */
    public void skipIf(Tensor flag) {
        checkNotApplied();
        Tensor f = checkScalar(flag, "skip flag").ne(0).to(DType.F32);
        skip = skip == null ? f : skip.maximum(f);
    }

    /**
     * 1 when a link before this point asked to skip the step, else 0 (0-d F32 device tensor). Stateful links use it
     * to leave their state as it was on a skipped step ({@code Tensor.where(skipFlag(), old, new)}).
     */
    public Tensor skipFlag() {
        return skip == null ? Tensor.zeros(device, DType.F32) : skip;
    }

    /**
     * Multiplies this step's learning rate by {@code factor} (0-d device tensor), inside the optimizer's fused update
     * ({@code Optimizer.stepAsync(coef, skip, lrFactor)}, no extra pass): torch's step with every group's lr lowered
     * to {@code lr * factor}, not a gradient scale, so moments and momentum buffers take the gradients as they are (an lr
     * backoff: Adam would all but cancel a gradient scale). Factors from several links multiply.
     */
    public void scaleLearningRate(Tensor factor) {
        checkNotApplied();
        Tensor f = checkScalar(factor, "learning-rate factor");
        lrFactor = lrFactor == null ? f : lrFactor.mul(f);
    }

    /** Marks the pending factor as unscaling by {@code inverseScale}: {@code StepStats.norm} is divided by the scale. */
    public void unscale(Tensor inverseScale) {
        scale(inverseScale);
        inverseLossScale = checkScalar(inverseScale, "inverse scale");
    }

    /**
     * Steps {@code optimizer} with the pending factor as its coefficient, the skip flag and the learning-rate factor,
     * all on the device.
     */
    public void applyTo(Optimizer optimizer) {
        checkNotApplied();
        optimizer.stepAsync(factor, skip, lrFactor);
        applied = true;
    }

    // ------------------------------------------------------------------ for the chain's statistics

    Tensor entryNorm() { return inverseLossScale == null ? entryNorm : entryNorm.mul(inverseLossScale); }

    Tensor entryNonFinite() { return entryFlag; }

    Tensor coefficient() { return clipProduct == null ? Tensor.ones(device, DType.F32) : clipProduct; }

    Tensor skipped() { return skipFlag(); }

    boolean applied() { return applied; }

    /** Index of the first parameter whose gradient entering the chain was not finite, else -1 (0-d F64). */
    Tensor firstNonFiniteParameter() {
        if (entryPerTensor == null) return Tensor.scalar(device, DType.F64, -1);
        Tensor bad = entryPerTensor.isFinite().rsub(1);             // 1 where a tensor's accumulator is NaN or inf
        Tensor k = bad.argmax(0, false).to(DType.F64);              // first maximum
        Tensor index = paramIndexOf(k);
        return Tensor.where(bad.max().gt(0), index, Tensor.scalar(device, DType.F64, -1));
    }

    private Tensor paramIndexOf(Tensor k) {
        boolean identity = true;
        for (int i = 0; i < paramIndex.length; i++) identity &= paramIndex[i] == i;
        if (identity) return k;
        double[] map = new double[paramIndex.length];
        for (int i = 0; i < map.length; i++) map[i] = paramIndex[i];
        return Tensor.fromArray(device, DType.F64, map, map.length).indexSelect(0, k.to(DType.I64).reshape(1)).reshape();
    }

    // ------------------------------------------------------------------ internals

    private void readPass(double normType, Tensor perTensor) {
        Tensor stats = GradNorm.compute(device, grads, Double.POSITIVE_INFINITY, normType, perTensor);
        passNorm = stats.narrow(0, GradNorm.NORM, 1).reshape();
        passFlag = stats.narrow(0, GradNorm.NON_FINITE, 1).reshape();
        passNormType = normType;
    }

    private void scaleInPlace(Tensor f) {
        if (grads.isEmpty()) return;
        if (device.backend().multiTensorOps().orElse(null) instanceof MultiTensorOps fused && allContiguous()) {
            List<Strided> views = new ArrayList<>(grads.size());
            for (Tensor g : grads) views.add(g.view());
            fused.multiTensorScale(views, f.contiguous().view());
            return;
        }
        for (Tensor g : grads) g.mulInPlace(f.to(g.dtype()));
    }

    private boolean allContiguous() {
        for (Tensor g : grads) if (!g.isContiguous() || g.dtype() != DType.F32) return false;
        return true;
    }

    private Tensor checkScalar(Tensor t, String what) {
        if (t.numel() != 1)
            throw new IllegalArgumentException("gradient chain: " + what + " must hold one element, got shape "
                    + java.util.Arrays.toString(t.shape()));
        if (t.device().backend() != device.backend())
            throw new IllegalArgumentException("gradient chain: " + what + " is on " + t.device().name()
                    + " but the gradients are on " + device.name());
        Tensor s = t.reshape();
        return s.dtype() == DType.F32 ? s : s.to(DType.F32);
    }

    private void checkNotApplied() {
        if (applied) throw new IllegalStateException("gradient chain: a link after apply(optimizer); apply must come last");
    }
}
