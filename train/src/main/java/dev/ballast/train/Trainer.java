package dev.ballast.train;

import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.data.DataLoader;
import dev.ballast.engine.DType;
import dev.ballast.engine.io.CheckpointFiles;
import dev.ballast.engine.io.NonFiniteTensorException;
import dev.ballast.engine.io.Json;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.ParamGroup;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.chain.StepStats;
import dev.ballast.stability.scale.GradScaler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A training loop in a few lines:
 * <pre>{@code
 * Trainer.Result r = Trainer.builder(params, new AdamW(params, 1e-3), loader, b -> mse(model(b.inputs()), b.targets()))
 *         .maxEpochs(10).schedule(LrSchedule.cosine(1000, 0).withWarmup(100)).metrics(Path.of("metrics.jsonl")).build().run();
 * }</pre>
 * Each iteration takes the next batch ({@link DataLoader#batch(long, long)}, so iteration {@code i} always sees the
 * same batch), sets the learning rate from the schedule, clears gradients, computes the loss, runs backward, runs
 * the gradient chain ({@link Builder#chain}: clipping, skipping, loss scaling, then the optimizer's step; without
 * one, a plain optimizer step); everything it allocates lives in a {@link Scope} closed at the end of the iteration.
 * The step itself reads nothing on the host: every {@code logEvery} iterations the loss and the chain's
 * {@link StepStats} are read (one device sync) and a JSON line written: {@code step}, {@code epoch},
 * {@code optimizer_step}, {@code loss}, {@code lr}, {@code grad_norm} (the chain's norm of the gradients entering
 * it, or with {@code trackGradNorm}), {@code clip_coefficient}, {@code skipped}, {@code consecutive_skips},
 * {@code total_skips} (with a chain), {@code loss_scale} (with a loss scaler), {@code time_s}, and {@code eval_<name>} on evaluation lines. A chain's limit
 * of consecutive skips is enforced at those reads ({@code TooManySkippedStepsException}). Checkpoints hold the
 * chain's state (link state, skip counters) beside the model and the optimizer.
 * Non-finite numbers are written as the strings "NaN", "Infinity" and "-Infinity".
 *
 * <p>Divergence never reaches a checkpoint: every iteration adds {@code 1 - isFinite(loss)} to a counter on the
 * device (no host sync); the counter is read where the loop syncs anyway (logged iterations and checkpoints), and
 * a non-finite loss since the last read stops the run with a {@link DivergedException} before anything is saved.
 * Checkpoints rotate through {@link CheckpointFiles} (checked writable before the first iteration) and a save that
 * finds a non-finite weight is refused, keeping the last good checkpoint, and stops the run the same way.
 * Not thread-safe.
 */
public final class Trainer {
    /**
     * Observes and steers iterations (gradient monitor, explosion guard, event logs). Steps are 1-based iteration
     * numbers. Hooks run in the order they were added.
     */
    public interface StepHook {
        /** After backward, before the gradient transform and the step; false skips the step (the optimizer is not called). */
        default boolean beforeStep(long step, Batch batch, Tensor loss) { return true; }

        /** After the step ran ({@code applied}) or was skipped by a hook. */
        default void afterStep(long step, boolean applied) {}

        /** On a logged step, before its metrics line is written: may add entries. */
        default void onLog(long step, Map<String, Object> line) {}
    }

    /**
     * What a run did. {@code iterations} counts batches consumed in total (including an earlier run resumed from);
     * {@code optimizerSteps} is the optimizer's step count at the end (a guard's rollback moves it back: it counts the
     * updates in effect); {@code skippedSteps} the steps this run kept out (a hook's or the chain's skips).
     */
    public record Result(long iterations, long optimizerSteps, long skippedSteps, double lastLoss,
                         Map<String, Double> lastEval, double seconds) {}

    private final List<Tensor> params;
    private final Optimizer optimizer;
    private final DataLoader loader;
    private final Function<Batch, Tensor> loss;
    private final LrSchedule schedule;
    private final long maxIterations;
    private final long evalEvery;
    private final Supplier<Map<String, Double>> eval;
    private final Consumer<List<Tensor>> gradTransform;
    private final Runnable stepFunction;
    private final GradientChain chain;
    private final GradScaler lossScaler;
    private final Writer metricsWriter;
    private final Path metricsPath;
    private final long logEvery;
    private final boolean trackGradNorm;
    private final ProgressReporter progress;
    private final long checkpointEvery;
    private final CheckpointFiles checkpoints;
    private final Map<String, Tensor> checkpointModel;
    private final Generator checkpointGenerator;
    private final List<StepHook> hooks;
    private final Map<String, String> checkpointMetadata;
    private final boolean stopOnNonFiniteLoss;
    private final DataParallel dataParallel;
    private final boolean chainReadsLoss;
    private long iteration;

    private Trainer(Builder b) {
        hooks = List.copyOf(b.hooks);
        params = List.copyOf(b.params);
        optimizer = b.optimizer;
        loader = b.loader;
        loss = b.loss;
        schedule = b.schedule;
        long perEpoch = loader.batchesPerEpoch();
        long byEpochs = b.maxEpochs > 0 ? Math.multiplyExact(b.maxEpochs, perEpoch) : Long.MAX_VALUE;
        long bySteps = b.maxSteps > 0 ? b.maxSteps : Long.MAX_VALUE;
        maxIterations = Math.min(byEpochs, bySteps);
        if (maxIterations == Long.MAX_VALUE) throw new IllegalArgumentException("trainer: set maxSteps or maxEpochs (> 0)");
        evalEvery = b.evalEvery;
        eval = b.eval;
        gradTransform = b.gradTransform;
        chain = b.chain;
        lossScaler = b.lossScaler;
        stepFunction = b.stepFunction != null ? b.stepFunction : optimizer::step;
        metricsWriter = b.metricsWriter;
        metricsPath = b.metricsPath;
        logEvery = b.logEvery;
        trackGradNorm = b.trackGradNorm;
        progress = b.progress != null ? b.progress : ProgressReporter.forConsole(maxIterations);
        checkpointEvery = b.checkpointEvery;
        checkpoints = b.checkpointPath == null ? null : new CheckpointFiles(b.checkpointPath, b.checkpointKeep);
        checkpointModel = b.checkpointModel;
        checkpointGenerator = b.checkpointGenerator;
        checkpointMetadata = Map.copyOf(b.checkpointMetadata);
        // a chain that skips non-finite steps handles a NaN loss itself (weights untouched; its skip limit stops the run)
        stopOnNonFiniteLoss = b.stopOnNonFiniteLoss != null ? b.stopOnNonFiniteLoss
                : b.chain == null || b.chain.nonFiniteSteps() == Link.NonFiniteSteps.APPLIED;
        chainReadsLoss = b.chain != null && b.chain.readsLoss();
        dataParallel = b.dataParallel;
        if (dataParallel != null) dataParallel.checkBatch(loader.batchSize());
        iteration = b.startIteration;
    }

    /** A builder with the four things every run needs. */
    public static Builder builder(List<Tensor> params, Optimizer optimizer, DataLoader loader, Function<Batch, Tensor> loss) {
        return new Builder(params, optimizer, loader, loss);
    }

    /** Batches consumed so far (the next iteration's index). */
    public long iteration() { return iteration; }

    /** Runs until the iteration limit; returns what happened. Metrics I/O failures surface as UncheckedIOException. */
    public Result run() {
        long t0 = System.nanoTime();
        if (schedule != null) optimizer.setSchedule(schedule); // evaluated by the step itself: no per-iteration read
        long startSteps = optimizer.stepCount();
        // with a chain, skipped steps are the chain's count (a rollback also moves the optimizer's count back)
        long startChainSkips = chain == null ? 0 : chainSkips();
        long attempted = 0, hookSkips = 0;
        double lastLoss = Double.NaN;
        Map<String, Double> lastEval = Map.of();
        boolean root = dataParallel == null || dataParallel.isRoot();
        Writer out = root ? metricsWriter : null;
        boolean ownWriter = false;
        Tensor nonFiniteLosses = null; // on the device: iterations whose loss was not finite, since the start
        try {
            if (checkpoints != null && root) checkpoints.checkWritable(); // before any training time is spent
            if (dataParallel != null) dataParallel.broadcastFromRoot(params);
            if (out == null && metricsPath != null && root) {
                Path parent = metricsPath.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                out = Files.newBufferedWriter(metricsPath, StandardCharsets.UTF_8);
                ownWriter = true;
            }
            long perEpoch = loader.batchesPerEpoch();
            while (iteration < maxIterations) {
                long epoch = iteration / perEpoch, index = iteration % perEpoch;
                boolean last = iteration + 1 == maxIterations;
                boolean log = (iteration + 1) % logEvery == 0 || last;
                boolean doEval = eval != null && root && ((iteration + 1) % evalEvery == 0 || last);
                Map<String, Object> line = null;
                try (Scope scope = Scope.open()) {
                    Batch batch = loader.batch(epoch, index);
                    if (dataParallel != null) batch = dataParallel.shard(batch);
                    optimizer.zeroGrad();
                    Tensor l = loss.apply(batch);
                    if (l.numel() != 1) throw new IllegalStateException("trainer: the loss function must return one value, got shape "
                            + java.util.Arrays.toString(l.shape()));
                    if (stopOnNonFiniteLoss) {
                        if (nonFiniteLosses == null)
                            nonFiniteLosses = Scope.detachFromScopes(Tensor.zeros(l.device(), DType.F32));
                        try (GradMode.Guard ng = GradMode.noGrad()) {
                            nonFiniteLosses.addInPlace(l.isFinite().rsub(1).reshape());
                        }
                    }
                    if (dataParallel != null) dataParallel.beforeBackward(); // buckets start their all-reduces from backward
                    (lossScaler == null ? l : lossScaler.scaleLoss(l)).backward();
                    if (dataParallel != null) dataParallel.averageGradients(); // before the chain: every rank decides alike
                    Double gradNorm = trackGradNorm ? hostGradNorm() : null;
                    boolean apply = true;
                    for (StepHook h : hooks) apply &= h.beforeStep(iteration + 1, batch, l);
                    // the step count is read (a device sync after fused steps) only on logged iterations
                    long before = log && chain == null ? optimizer.stepCount() : -1;
                    StepStats stats = null;
                    if (apply) {
                        if (gradTransform != null) gradTransform.accept(params);
                        if (chain != null) stats = chain.step(chainReadsLoss ? lossForChain(l) : null);
                        else stepFunction.run();
                    }
                    for (StepHook h : hooks) h.afterStep(iteration + 1, apply);
                    if (!apply) hookSkips++;
                    attempted++;
                    if (log) {
                        StepStats.Values v = stats == null ? null : stats.read(); // throws when the skip limit was reached
                        boolean skipped = !apply || (v != null ? v.skipped() : optimizer.stepCount() == before);
                        if (v != null && gradNorm == null) gradNorm = v.norm();
                        lastLoss = dataParallel == null ? l.item() : dataParallel.mean(l);
                        long taken = optimizer.stepCount(); // the lr of this iteration's step: before it, if taken
                        ParamGroup first = optimizer.paramGroups().getFirst();
                        double lr = schedule == null ? first.lr() : schedule.lr(Math.max(0, skipped ? taken : taken - 1), first.baseLr());
                        line = new LinkedHashMap<>();
                        line.put("step", iteration + 1);
                        line.put("epoch", epoch);
                        line.put("optimizer_step", taken);
                        line.put("loss", num(lastLoss));
                        line.put("lr", lr);
                        if (gradNorm != null) line.put("grad_norm", num(gradNorm));
                        if (v != null) line.put("clip_coefficient", num(v.coefficient()));
                        line.put("skipped", skipped);
                        if (v != null) {
                            line.put("consecutive_skips", v.consecutiveSkips());
                            line.put("total_skips", v.totalSkips());
                        }
                        if (lossScaler != null) line.put("loss_scale", lossScaler.scale().item()); // after this step's update
                        line.put("time_s", (System.nanoTime() - t0) / 1e9);
                        for (StepHook h : hooks) h.onLog(iteration + 1, line);
                    }
                }
                iteration++;
                boolean save = checkpoints != null && (iteration % checkpointEvery == 0 || iteration == maxIterations);
                if ((log || save) && nonFiniteLosses != null && nonFiniteLosses.item() != 0)
                    throw new DivergedException(iteration, "the loss was not finite at " + (long) nonFiniteLosses.item()
                            + " iteration(s) up to this one, so no checkpoint was written from the first of them on", null);
                if (doEval) {
                    lastEval = runEval();
                    if (line == null) {
                        line = new LinkedHashMap<>();
                        line.put("step", iteration);
                        line.put("time_s", (System.nanoTime() - t0) / 1e9);
                    }
                    for (var e : lastEval.entrySet()) line.put("eval_" + e.getKey(), num(e.getValue()));
                }
                if (line != null && out != null) {
                    out.write(Json.write(line));
                    out.write('\n');
                    out.flush();
                }
                if (save) {
                    if (dataParallel != null) dataParallel.barrier(); // every rank holds the state being written
                    try {
                        if (root) checkpoints.save(checkpointModel, optimizer, iteration, checkpointGenerator,
                                chain == null ? Map.of() : chain.stateDict(), checkpointMetadata);
                    } catch (NonFiniteTensorException e) {
                        throw new DivergedException(iteration, "the weights or optimizer state are not finite, so the checkpoint was"
                                + " not written and the last good one is kept: " + e.getMessage(), e);
                    }
                }
                if (log && root) progress.update(iteration, status(lastLoss, t0, attempted));
            }
            if (root) progress.finish();
            long skippedSteps = chain == null ? attempted - (optimizer.stepCount() - startSteps) : hookSkips + chainSkips() - startChainSkips;
            return new Result(iteration, optimizer.stepCount(), skippedSteps, lastLoss,
                    lastEval, (System.nanoTime() - t0) / 1e9);
        } catch (IOException e) {
            throw new UncheckedIOException("trainer: writing metrics or a checkpoint failed: " + e.getMessage(), e);
        } finally {
            if (nonFiniteLosses != null) nonFiniteLosses.close();
            if (ownWriter) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // the run's result or its exception matters more than a failed close
                }
            }
        }
    }

    /** The chain's count of skipped steps (a host read). */
    private long chainSkips() { return (long) chain.stateDict().get("skips.total").item(); }

    private String status(double loss, long t0, long done) {
        double secs = (System.nanoTime() - t0) / 1e9;
        return String.format(Locale.ROOT, "loss %.4g lr %.3g %.1f it/s", loss, optimizer.paramGroups().getFirst().lr(),
                secs > 0 ? done / secs : 0.0);
    }

    private Map<String, Double> runEval() {
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            Map<String, Double> m = eval.get();
            return m == null ? Map.of() : Map.copyOf(m);
        }
    }

    /**
     * The global L2 norm of the gradients before the transform, read on the host; with a loss scaler, divided by the
     * scale the gradients carry (the scaler's scale now: the chain updates it only later in the step).
     */
    private double hostGradNorm() {
        double sq = 0;
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null) continue;
                double n = g.norm(2).item();
                sq += n * n;
            }
        }
        return Math.sqrt(sq) / (lossScaler == null ? 1 : lossScaler.scale().item());
    }

    /** The loss as the chain's links see it: detached, and under data-parallel the mean over the ranks, on the device. */
    private Tensor lossForChain(Tensor l) {
        try (GradMode.Guard ng = GradMode.noGrad()) {
            return dataParallel == null ? l.detach() : dataParallel.meanOnDevice(l);
        }
    }

    private static Object num(double v) {
        if (Double.isFinite(v)) return v;
        return Double.isNaN(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    }

    /** Configures a {@link Trainer}; only {@code maxSteps} or {@code maxEpochs} is required beyond the constructor's. */
    public static final class Builder {
        private final List<Tensor> params;
        private final Optimizer optimizer;
        private final DataLoader loader;
        private final Function<Batch, Tensor> loss;
        private LrSchedule schedule;
        private long maxSteps;
        private long maxEpochs;
        private long evalEvery = Long.MAX_VALUE;
        private Supplier<Map<String, Double>> eval;
        private Consumer<List<Tensor>> gradTransform;
        private Runnable stepFunction;
        private GradientChain chain;
        private GradScaler lossScaler;
        private Writer metricsWriter;
        private Path metricsPath;
        private long logEvery = 10;
        private boolean trackGradNorm;
        private ProgressReporter progress;
        private long checkpointEvery;
        private Path checkpointPath;
        private int checkpointKeep = 1;
        private Map<String, Tensor> checkpointModel;
        private Generator checkpointGenerator;
        private Map<String, String> checkpointMetadata = Map.of();
        private Boolean stopOnNonFiniteLoss;
        private long startIteration;
        private final List<StepHook> hooks = new java.util.ArrayList<>();
        private DataParallel dataParallel;

        private Builder(List<Tensor> params, Optimizer optimizer, DataLoader loader, Function<Batch, Tensor> loss) {
            this.params = Objects.requireNonNull(params, "params");
            this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
            this.loader = Objects.requireNonNull(loader, "loader");
            this.loss = Objects.requireNonNull(loss, "loss");
        }

        /** Learning-rate schedule, given to the optimizer ({@code Optimizer.setSchedule}) at the start of the run. */
        public Builder schedule(LrSchedule s) { this.schedule = s; return this; }

        /** Stop after this many iterations in total (counting from 0, including a resumed run's earlier ones). */
        public Builder maxSteps(long n) { this.maxSteps = positive(n, "maxSteps"); return this; }

        /** Stop after this many epochs. With both limits, the earlier one wins. */
        public Builder maxEpochs(long n) { this.maxEpochs = positive(n, "maxEpochs"); return this; }

        /** Evaluation every {@code every} iterations and at the end, under noGrad; its metrics are logged as eval_<name>. */
        public Builder eval(long every, Supplier<Map<String, Double>> fn) {
            this.evalEvery = positive(every, "eval every");
            this.eval = Objects.requireNonNull(fn, "eval function");
            return this;
        }

        /** Runs on the parameters after backward and before the step (gradient clipping goes here). */
        public Builder gradTransform(Consumer<List<Tensor>> t) { this.gradTransform = t; return this; }

        /**
         * Replaces {@code optimizer.step()} (e.g. with a stability gradient chain's step); a call that leaves the
         * optimizer's step count unchanged is counted as a skipped step.
         */
        public Builder stepFunction(Runnable f) { this.stepFunction = f; this.chain = null; return this; }

        /**
         * Steps through {@code chain} (which must end with {@code apply} of this trainer's optimizer) instead of
         * {@code optimizer.step()}: its statistics are logged, its skip limit enforced, its state checkpointed.
         */
        public Builder chain(GradientChain chain) {
            Objects.requireNonNull(chain, "chain");
            if (chain.optimizer() != optimizer)
                throw new IllegalArgumentException("trainer: the chain must end with apply(optimizer) of the trainer's optimizer");
            this.chain = chain;
            this.stepFunction = null;
            return this;
        }

        /**
         * Loss scaling (fp16 mixed precision): the loss is multiplied by {@code scaler}'s scale before backward, so the
         * gradients reaching the hooks, the transform and the chain are scaled; the chain unscales them (its
         * {@code unscale(scaler)} link, which also skips overflow steps and moves the scale). The logged loss stays
         * unscaled, and logged lines gain {@code loss_scale} (the scale after that step's update).
         */
        public Builder lossScaler(GradScaler scaler) { this.lossScaler = scaler; return this; }

        /** JSON-lines metrics to a writer the caller owns (flushed after each line, not closed). */
        public Builder metrics(Writer w) { this.metricsWriter = w; this.metricsPath = null; return this; }

        /** JSON-lines metrics to a file (created or truncated), closed at the end of the run. */
        public Builder metrics(Path p) { this.metricsPath = p; this.metricsWriter = null; return this; }

        /** Read the loss and write a metrics line every {@code n} iterations (default 10; the last is always logged). */
        public Builder logEvery(long n) { this.logEvery = positive(n, "logEvery"); return this; }

        /** Also log the global L2 gradient norm before the transform (one extra device sync per parameter per step). */
        public Builder trackGradNorm(boolean on) { this.trackGradNorm = on; return this; }

        /** A progress display (default: {@link ProgressReporter#forConsole}, drawn only on an interactive console). */
        public Builder progress(ProgressReporter p) { this.progress = p; return this; }

        /**
         * Saves a checkpoint of {@code model}, the optimizer and {@code gen} (may be null) every {@code every}
         * iterations and at the end, through {@link CheckpointFiles} at {@code path} (step-numbered files, {@code path}
         * pointing at the newest; {@link #checkpointKeep} of them kept).
         */
        public Builder checkpoint(long every, Path path, Map<String, Tensor> model, Generator gen) {
            this.checkpointEvery = positive(every, "checkpoint every");
            this.checkpointPath = Objects.requireNonNull(path, "checkpoint path");
            this.checkpointModel = Objects.requireNonNull(model, "checkpoint model");
            this.checkpointGenerator = gen;
            return this;
        }

        /** How many step-numbered checkpoints to keep (default 1). */
        public Builder checkpointKeep(int k) { this.checkpointKeep = (int) positive(k, "checkpoint keep"); return this; }

        /** Extra metadata written into every checkpoint (e.g. the run's configuration). */
        public Builder checkpointMetadata(Map<String, String> meta) { this.checkpointMetadata = Map.copyOf(meta); return this; }

        /**
         * Whether a non-finite loss stops the run: counted on the device every iteration, read at logged iterations
         * and checkpoints. Default: on, unless the chain declares that it keeps non-finite steps out
         * ({@code Link.nonFiniteSteps()}: a skip link, a loss scaler's unscale, the explosion guard); then a NaN loss
         * leaves the weights as they were, and the chain's consecutive-skip limit stops a run that keeps failing.
         */
        public Builder stopOnNonFiniteLoss(boolean on) { this.stopOnNonFiniteLoss = on; return this; }

        /** Resumes at this iteration (e.g. a checkpoint's step): batches and limits continue from there. */
        public Builder startIteration(long i) {
            if (i < 0) throw new IllegalArgumentException("trainer: startIteration must be >= 0, got " + i);
            this.startIteration = i;
            return this;
        }

        /** Adds a hook called around every step (after those added before it). */
        public Builder hook(StepHook h) { this.hooks.add(Objects.requireNonNull(h, "hook")); return this; }
        /**
         * Trains data-parallel: rank 0's parameters are broadcast at the start, each global batch is sharded by rank,
         * gradients are averaged over the ranks right after backward (before the transform and the step), the logged
         * loss is the mean over the ranks, and only rank 0 evaluates (the replicas are identical) and writes metrics,
         * checkpoints (after a barrier) and progress.
         */
        public Builder dataParallel(DataParallel dp) { this.dataParallel = dp; return this; }

        public Trainer build() { return new Trainer(this); }

        private static long positive(long n, String what) {
            if (n <= 0) throw new IllegalArgumentException("trainer: " + what + " must be > 0, got " + n);
            return n;
        }
    }
}
