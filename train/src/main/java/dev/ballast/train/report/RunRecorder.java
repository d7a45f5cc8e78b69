package dev.ballast.train.report;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.monitor.Diagnosis;
import dev.ballast.stability.monitor.GradientMonitor;
import dev.ballast.stability.monitor.ModelTraits;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Records a run for its report, on logged steps only (every {@code logEvery} steps and the last), so the other steps
 * stay free of host reads. Plug it into a trainer in two places: as the {@link BuiltinTraining.Listener} (loss and
 * evaluations) and as the gradient transform ({@link #gradTransform}: global and per-layer gradient norms and the
 * first layer's fraction of exactly-zero gradient entries, measured before the chain clips anything, and whether
 * the optimizer then skipped the step). Per-layer norms are taken for every parameter with two
 * or more dimensions (the weight matrices), in the model's order. With a loss scale ({@link #lossScale}) the norms
 * are divided by the scale the step ran with, so they compare with unscaled runs.
 *
 * <p>The findings come from the gradient health monitor ({@code GradientMonitor}, driven by this recorder as a
 * trainer hook, or shared with the run's health session) and its {@code Diagnosis}; install both parts with
 * {@code TrainCommand.record} or {@code builder.gradTransform(recorder.gradTransform(null)).hook(recorder)}.
 */
public final class RunRecorder implements BuiltinTraining.Listener, Trainer.StepHook {
    private final Map<String, Tensor> params;
    private final List<String> layers = new ArrayList<>();
    private final Optimizer optimizer;
    private final long logEvery;
    private final long maxSteps;
    private final TreeMap<Long, Row> rows = new TreeMap<>();
    private final long t0 = System.nanoTime();
    private final BuiltinTraining.Listener forward;
    private Supplier<Tensor> lossScale;
    private GradientMonitor monitor;        // the findings' statistics, read on logged steps
    private boolean drivesMonitor = true;   // false when someone else's hook drives it
    private double divergedLoss = Double.NaN;
    private long iteration;
    private long divergedAt;
    private long pendingStep, pendingCount;

    /**
     * @param namedParams the model's parameters by name ({@code Module.namedParameters()})
     * @param startIteration the first iteration's index (0 unless resuming)
     * @param forward a listener that also gets every loss and evaluation (null for none)
     */
    public RunRecorder(Map<String, Tensor> namedParams, Optimizer optimizer, long logEvery, long maxSteps,
                       long startIteration, BuiltinTraining.Listener forward) {
        if (logEvery < 1) throw new IllegalArgumentException("logEvery must be >= 1, got " + logEvery);
        this.params = new LinkedHashMap<>(namedParams);
        for (var e : params.entrySet()) if (e.getValue().rank() >= 2) layers.add(e.getKey());
        this.optimizer = optimizer;
        this.logEvery = logEvery;
        this.maxSteps = maxSteps;
        this.iteration = startIteration;
        this.forward = forward;
        this.monitor = new GradientMonitor(namedParams, logEvery);
    }

    /**
     * Takes the findings' statistics from {@code m}, which another hook drives (e.g. {@code ballast train}'s health
     * session, so logged steps are not read twice), instead of this recorder's own monitor.
     */
    public RunRecorder monitor(GradientMonitor m) {
        this.monitor = java.util.Objects.requireNonNull(m, "monitor");
        this.drivesMonitor = false;
        return this;
    }

    /** Starts the gradient statistics pass on logged steps (as a trainer hook, with {@link #gradTransform}). */
    @Override public boolean beforeStep(long step, dev.ballast.engine.data.Batch batch, Tensor loss) {
        if (drivesMonitor && logged(step)) monitor.beforeStep(step);
        return true;
    }

    @Override public void afterStep(long step, boolean applied) {
        if (drivesMonitor) monitor.afterStep(step);
    }

    /**
     * The loss scale the run's steps use (a 0-d device tensor, read on logged steps); null for none. This recorder's
     * own monitor divides its readings by it too; a monitor shared through {@link #monitor(GradientMonitor)} is told
     * by its owner ({@code GradientMonitor.lossScale}).
     */
    public RunRecorder lossScale(Supplier<Tensor> scale) {
        this.lossScale = scale;
        if (drivesMonitor) monitor.lossScale(scale);
        return this;
    }

    /** The names of the layers whose gradient norms are recorded. */
    public List<String> layers() { return List.copyOf(layers); }

    @Override
    public void onLoss(long step, double loss) {
        row(step).loss = loss;
        if (forward != null) forward.onLoss(step, loss);
    }

    @Override
    public void onEval(long step, Map<String, Double> metrics) {
        row(step).eval.putAll(metrics);
        if (forward != null) forward.onEval(step, metrics);
    }

    /** Marks the run as diverged: the loss of {@code step} was {@code loss} (not finite). */
    public void diverged(long step, double loss) {
        divergedAt = step;
        divergedLoss = loss;
        row(step).loss = loss;
    }

    /** The step at which the loss was not finite, 0 if none. */
    public long divergedAt() { return divergedAt; }

    /**
     * Measures the gradients on logged steps, then runs {@code then} (may be null). Runs before the trainer's step
     * (its chain or step function); whether a logged step was skipped is read at the next iteration (or at the end)
     * from the optimizer's step count, one host read per logged step.
     */
    public Consumer<List<Tensor>> gradTransform(Consumer<List<Tensor>> then) {
        return ps -> {
            settlePending();
            iteration++;
            if (logged(iteration)) {
                measure(row(iteration));
                pendingStep = iteration;
                pendingCount = optimizer.stepCount();
            }
            if (then != null) then.accept(ps);
        };
    }

    /** Marks the last logged step skipped when the optimizer's step count has not moved since before its step. */
    private void settlePending() {
        if (pendingStep == 0) return;
        row(pendingStep).skipped = optimizer.stepCount() == pendingCount;
        pendingStep = 0;
    }

    private boolean logged(long step) { return step % logEvery == 0 || step == maxSteps; }

    private void measure(Row r) {
        r.lr = optimizer.paramGroups().getFirst().lr();
        r.timeS = (System.nanoTime() - t0) / 1e9;
        try (Scope s = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            double scale = 1;
            if (lossScale != null) {
                scale = lossScale.get().item();
                r.lossScale = scale;
            }
            double sq = 0;
            r.layerNorms = new double[layers.size()];
            int li = 0;
            for (var e : params.entrySet()) {
                Tensor g = e.getValue().grad();
                boolean layer = e.getValue().rank() >= 2;
                if (g == null) {
                    if (layer) r.layerNorms[li++] = Double.NaN;
                    continue;
                }
                double n = g.to(dev.ballast.engine.DType.F32).norm(2).item() / scale;
                sq += n * n;
                if (layer) {
                    if (li == 0) r.extra.put(StepRecord.FIRST_LAYER_ZERO_GRADS, g.eq(0).sum().item() / g.numel());
                    r.layerNorms[li++] = n;
                }
            }
            r.gradNorm = Math.sqrt(sq);
        }
    }

    private Row row(long step) { return rows.computeIfAbsent(step, k -> new Row()); }

    /** The log of the run so far, with findings for a model nothing is known of ({@code ModelTraits.unknown}). */
    public RunLog log(String name, String title, Map<String, Object> config, double clip, Map<String, Object> summary) {
        Object lr = config.get("lr");
        return log(name, title, config, clip, summary, ModelTraits.unknown(lr instanceof Number n ? n.doubleValue() : Double.NaN));
    }

    /**
     * The log of the run so far, with its findings: the gradient health diagnosis of the statistics read on logged
     * steps ({@code Diagnosis.diagnose}, knowing the model's {@code traits}) and the report's own ({@link Findings#of}).
     */
    public RunLog log(String name, String title, Map<String, Object> config, double clip, Map<String, Object> summary,
                      ModelTraits traits) {
        if (divergedAt == 0) settlePending(); // a diverged run's last measured step never reached the optimizer
        List<StepRecord> out = new ArrayList<>();
        for (var e : rows.entrySet()) {
            Row r = e.getValue();
            out.add(new StepRecord(e.getKey(), r.loss, r.lr, r.gradNorm, r.layerNorms, r.lossScale, r.skipped, r.eval,
                    r.extra, r.timeS));
        }
        RunLog log = new RunLog(name, title, config, layers, clip, out, List.of(), summary, divergedAt);
        return log.withFindings(Findings.of(log, Diagnosis.diagnose(monitor.history(), monitor.firstNonFinite(), divergedAt,
                divergedLoss, traits)));
    }

    private static final class Row {
        double loss = Double.NaN, lr = Double.NaN, gradNorm = Double.NaN, lossScale = Double.NaN, timeS = Double.NaN;
        double[] layerNorms;
        boolean skipped;
        final Map<String, Double> eval = new LinkedHashMap<>();
        final Map<String, Double> extra = new LinkedHashMap<>();
    }
}
