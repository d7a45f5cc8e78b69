package dev.ballast.stability.monitor;

import dev.ballast.engine.DType;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Watches gradient health every {@code every} steps. Around a due step: {@link #beforeStep} (after backward, before
 * the optimizer) starts the statistics pass and keeps a device copy of the weights; {@link #afterStep} measures each
 * parameter's update {@code ||w_after - w_before||} with the fused norm pass, then reads everything back in one go
 * and returns the {@link HealthSnapshot}. Other steps cost nothing: no pass, no host sync. {@link #inspect} reads the
 * current gradients at once (for a step that went wrong), and {@link #firstNonFinite()} keeps the first
 * {@link NonFiniteOrigin} seen.
 *
 * <p>Under fp16 mixed precision the gradients it reads carry the loss scale (the trainer's hooks run after backward
 * and before the chain's {@code unscale} link): give the scale with {@link #lossScale} and every reading copies the
 * scale of its step on the device (no host sync) and is divided by it when read back: norms and the largest |g|
 * divided, histograms moved back by {@code log2(scale)} bins for a power-of-two scale (dynamic loss scaling always
 * uses one), or kept as the scaled values' bins and marked with the scale otherwise ({@link Log2Histogram#scale}).
 * So fp16 readings compare with fp32 ones. The fp16 underflow watch asks the unscaled reading about the flush
 * threshold at the loss scale ({@code UnderflowWatch.of}), so it keeps meaning "flushes to zero in fp16 at this scale".
 *
 * <p>History keeps at most {@value #MAX_HISTORY} snapshots; past that every other one is dropped, so a long run keeps
 * an evenly thinned record from start to end.
 */
public final class GradientMonitor {
    static final int MAX_HISTORY = 512;

    private final LinkedHashMap<String, Tensor> params;
    private final long every;
    private final List<HealthSnapshot> history = new ArrayList<>();
    private GradStats.Pending pending;
    private List<Tensor> before;
    private long pendingStep = -1;
    private NonFiniteOrigin firstNonFinite;
    private Supplier<Tensor> lossScale;

    /** Monitors {@code params} (name to tensor, in model order) every {@code every} steps (>= 1). */
    public GradientMonitor(Map<String, Tensor> params, long every) {
        if (every < 1) throw new IllegalArgumentException("monitor: every must be >= 1 step, got " + every);
        this.params = new LinkedHashMap<>(params);
        this.every = every;
    }

    public long every() { return every; }

    /**
     * The gradients this monitor reads at {@link #beforeStep} carry the loss scale {@code scale} gives (a 0-d device
     * tensor such as {@code GradScaler.scale()}, live; null: none). Returns this monitor.
     */
    public GradientMonitor lossScale(Supplier<Tensor> scale) {
        this.lossScale = scale;
        return this;
    }

    /** Whether step {@code step} (1-based) is read. */
    public boolean due(long step) { return step % every == 0; }

    /** After backward, before the step: on a due step starts the statistics pass and copies the weights (no sync). */
    public void beforeStep(long step) {
        if (!due(step)) return;
        discardPending();
        try (GradMode.Guard ng = GradMode.noGrad()) {
            pending = GradStats.compute(params, lossScale == null ? null : lossScale.get());
            Scope.detachFromScopes(pending.stats());
            Scope.detachFromScopes(pending.histogram());
            if (pending.scale() != null) Scope.detachFromScopes(pending.scale());
            before = new ArrayList<>();
            for (String name : pending.names()) before.add(Scope.detachFromScopes(params.get(name).copy()));
            pendingStep = step;
        }
    }

    /** After the step: on a due step reads the pass and the update ratios (one sync), records and returns them; else null. */
    public HealthSnapshot afterStep(long step) {
        if (pending == null || pendingStep != step) return null;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            double[] updateSq = updateSquares();
            List<ParamStats> read = pending.read();
            List<ParamStats> stats = new ArrayList<>(read.size());
            for (int i = 0; i < read.size(); i++) {
                ParamStats p = read.get(i);
                double w = p.weightNorm();
                stats.add(p.withUpdateRatio(w > 0 ? Math.sqrt(updateSq[i]) / w : Double.NaN));
            }
            HealthSnapshot snap = new HealthSnapshot(step, stats);
            record(snap);
            return snap;
        } finally {
            discardPending();
        }
    }

    /**
     * Reads the current gradients now (a sync), without update ratios; records the snapshot. The gradients are taken
     * as they are (no loss scale: e.g. a replayed backward of an unscaled loss); see {@link #inspect(long, Tensor)}.
     */
    public HealthSnapshot inspect(long step) { return inspect(step, null); }

    /** {@link #inspect(long)} of gradients that carry the loss scale {@code lossScale} (0-d device tensor; null: none). */
    public HealthSnapshot inspect(long step, Tensor lossScale) {
        try (GradMode.Guard ng = GradMode.noGrad(); GradStats.Pending p = GradStats.compute(params, lossScale)) {
            HealthSnapshot snap = new HealthSnapshot(step, p.read());
            record(snap);
            return snap;
        }
    }

    /** The first snapshot that held non-finite gradients, as an origin (null while none did). */
    public NonFiniteOrigin firstNonFinite() { return firstNonFinite; }

    /**
     * Names the op and module of the first non-finite value (from an anomaly-mode replay of step {@code step}); when
     * no reading had non-finite gradients yet, the origin is that op alone.
     */
    public void attributeNonFinite(long step, String op, String module, boolean inBackward) {
        firstNonFinite = firstNonFinite != null ? firstNonFinite.withAnomaly(op, module, inBackward)
                : new NonFiniteOrigin(step, "", 0, 0, List.of(), op, module, inBackward);
    }

    /** Snapshots read so far, oldest first. */
    public List<HealthSnapshot> history() { return List.copyOf(history); }

    /** The parameter names in model order. */
    public List<String> names() { return List.copyOf(params.keySet()); }

    private void record(HealthSnapshot snap) {
        if (firstNonFinite == null) firstNonFinite = NonFiniteOrigin.of(snap);
        history.add(snap);
        if (history.size() > MAX_HISTORY) {
            List<HealthSnapshot> kept = new ArrayList<>();
            for (int i = 0; i < history.size(); i++) if (i % 2 == 0 || i == history.size() - 1) kept.add(history.get(i));
            history.clear();
            history.addAll(kept);
        }
    }

    /** Per parameter, the squared norm of the change since {@link #beforeStep}, from one fused norm pass. */
    private double[] updateSquares() {
        List<Tensor> deltas = new ArrayList<>();
        for (int i = 0; i < before.size(); i++) {
            Tensor now = params.get(pending.names().get(i));
            deltas.add(now.dtype() == DType.F32 ? now.sub(before.get(i)) : now.to(DType.F32).sub(before.get(i).to(DType.F32)));
        }
        if (deltas.isEmpty()) return new double[0];
        Tensor per = Tensor.empty(deltas.getFirst().device(), DType.F64, deltas.size());
        Tensor total = Tensor.empty(deltas.getFirst().device(), DType.F64, 2);
        if (per.device().backend().multiTensorOps().orElse(null) instanceof MultiTensorOps ops) {
            List<Strided> views = new ArrayList<>();
            for (Tensor d : deltas) views.add(d.view());
            ops.multiTensorNorm(views, NormKind.L2, 2, per.view(), total.view());
            return per.toDoubleArray();
        }
        double[] out = new double[deltas.size()];
        for (int i = 0; i < out.length; i++) out[i] = deltas.get(i).to(DType.F64).square().sum().item();
        return out;
    }

    private void discardPending() {
        if (pending != null) pending.close();
        if (before != null) before.forEach(Tensor::close);
        pending = null;
        before = null;
        pendingStep = -1;
    }
}
