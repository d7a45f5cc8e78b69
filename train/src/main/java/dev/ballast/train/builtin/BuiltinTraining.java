package dev.ballast.train.builtin;

import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.data.DataLoader;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.optim.Adam;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.engine.optim.schedule.LrSchedule;
import dev.ballast.train.DataParallel;
import dev.ballast.train.Trainer;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Everything a built-in run needs, made from a {@link TrainConfig}: the device, the task's data, the model (F32,
 * initialized from {@code seed}), the optimizer, the schedule and a shuffled loader (seeded, last partial batch
 * dropped), wired into a {@link Trainer.Builder} by {@link #trainer(Listener)}. Every {@code logEvery} steps and at
 * the last step the loss is read: a non-finite loss stops the run with a {@link DivergedException}.
 *
 * <p>Clipping here uses engine ops only ({@link #engineStep()}: global L2 norm, coefficient
 * {@code min(clip / (norm + 1e-6), 1)} passed to the optimizer's step; {@link #engineValueClip()}: clamp), the
 * same arithmetic as the stability module's chain; callers with the stability module replace them through the
 * builder's {@code stepFunction} and {@code gradTransform}. Owns what it makes: {@link #close()} frees it all.
 */
public final class BuiltinTraining implements AutoCloseable {

    /** Observes a run: the loss at each logged step, and each evaluation. Called on the training thread. */
    public interface Listener {
        default void onLoss(long step, double loss) {}

        default void onEval(long step, Map<String, Double> metrics) {}
    }

    /** Test-set examples evaluated per forward pass. */
    static final int EVAL_CHUNK = 1000;

    private final TrainConfig config;
    private final Device device;
    private final Generator generator;
    private final BuiltinTasks.Task task;
    private final Module model;
    private final Optimizer optimizer;
    private final DataLoader loader;
    private final LrSchedule schedule;
    private long lastStep;
    private DataParallel dataParallel;

    private BuiltinTraining(TrainConfig c, Device device) {
        this.config = c;
        this.device = device;
        this.generator = new Generator(c.seed());
        BuiltinTasks.Task t = BuiltinTasks.build(c, device);
        Module m = null;
        try {
            m = BuiltinModels.build(c, t, new ParamSpec(device, dev.ballast.engine.DType.F32, generator));
            this.optimizer = optimizer(c, m.parameters());
        } catch (RuntimeException e) {
            if (m != null) m.close();
            t.close();
            throw e;
        }
        this.task = t;
        this.model = m;
        this.loader = new DataLoader(t.train(), c.batch(), true, true, c.seed() * 1_000_003L + 37);
        this.schedule = schedule(c);
    }

    /** Builds the run of {@code c}; the device is opened by name ("auto", "cpu" or "cuda"). */
    public static BuiltinTraining create(TrainConfig c) {
        Device d;
        try {
            d = Device.named(c.device());
        } catch (IllegalStateException e) {
            throw new ConfigException("device", "device: " + e.getMessage());
        }
        return new BuiltinTraining(c, d);
    }

    public TrainConfig config() { return config; }

    public Device device() { return device; }

    /** The generator the parameters were drawn from (saved in checkpoints). */
    public Generator generator() { return generator; }

    public BuiltinTasks.Task task() { return task; }

    public Module model() { return model; }

    public Optimizer optimizer() { return optimizer; }

    public DataLoader loader() { return loader; }

    public LrSchedule schedule() { return schedule; }

    /**
     * A trainer builder with steps, schedule, loss (checked for divergence and reported to {@code listener} every
     * {@code logEvery} steps), evaluation every {@code evalEvery} steps, and the engine clipping as step function and
     * gradient transform. Progress display is off: the listener sees every logged loss and can draw its own.
     */
    public Trainer.Builder trainer(Listener listener) { return trainer(listener, null); }

    /**
     * As {@link #trainer(Listener)}, data-parallel over {@code dp} when it is not null: the batch setting is the global
     * batch (sharded by rank) and the loss checked for divergence is the mean over the ranks, so all stop together.
     */
    public Trainer.Builder trainer(Listener listener, DataParallel dp) {
        this.dataParallel = dp;
        Listener l = listener == null ? new Listener() {} : listener;
        Trainer.Builder b = Trainer.builder(model.parameters(), optimizer, loader, loss(l))
                .maxSteps(config.steps())
                .schedule(schedule)
                .logEvery(config.logEvery())
                .eval(config.effectiveEvalEvery(), eval(l))
                .stepFunction(engineStep())
                .progress(new dev.ballast.train.ProgressReporter(System.err, config.steps(), false));
        if (dp != null) b.dataParallel(dp);
        Consumer<List<Tensor>> clipValue = engineValueClip();
        if (clipValue != null) b.gradTransform(clipValue);
        return b;
    }

    /** The training loss of a batch; reads it every logEvery steps and at the end, throwing when it is not finite. */
    Function<Batch, Tensor> loss(Listener l) {
        long perEpoch = loader.batchesPerEpoch();
        return batch -> {
            long step = batch.epoch() * perEpoch + batch.index() + 1;
            lastStep = step;
            Tensor loss = task.loss(model.call(batch.inputs()), batch.targets());
            if (step % config.logEvery() == 0 || step == config.steps()) {
                double v = dataParallel == null ? loss.item() : dataParallel.mean(loss);
                if (!Double.isFinite(v)) throw new DivergedException(step, v);
                l.onLoss(step, v);
            }
            return loss;
        };
    }

    /** Evaluation on the test set in eval mode: {@code loss} and the task's metric. */
    Supplier<Map<String, Double>> eval(Listener l) {
        return () -> {
            model.eval();
            try {
                Map<String, Double> m = task.evaluate(model::call, EVAL_CHUNK);
                l.onEval(lastStep, m);
                return m;
            } finally {
                model.train();
            }
        };
    }

    /** Evaluates now (outside a trainer), under noGrad. */
    public Map<String, Double> evaluate() {
        try (Scope s = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            return eval(new Listener() {}).get();
        }
    }

    /** The optimizer step, behind a global L2 norm clip of {@code clip} when it is > 0 (engine ops only). */
    public Runnable engineStep() {
        double max = config.clip();
        if (max <= 0) return optimizer::step;
        return () -> {
            Tensor coef = null;
            try (Scope s = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
                Tensor sq = null;
                for (Tensor p : model.parameters()) {
                    if (p.grad() == null) continue;
                    Tensor s2 = p.grad().square().sum();
                    sq = sq == null ? s2 : sq.add(s2);
                }
                if (sq != null) coef = sq.sqrt().add(1e-6).rdiv(max).minimum(1.0);
                optimizer.step(coef, null);
            }
        };
    }

    /** Clamps every gradient to [-clipValue, clipValue] when clipValue > 0 (engine ops only); null when off. */
    public Consumer<List<Tensor>> engineValueClip() {
        double v = config.clipValue();
        if (v <= 0) return null;
        return params -> {
            try (Scope s = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
                for (Tensor p : params) if (p.grad() != null) p.grad().copyFrom(p.grad().clamp(-v, v));
            }
        };
    }

    static Optimizer optimizer(TrainConfig c, List<Tensor> params) {
        return switch (c.optimizer()) {
            case "sgd" -> new SGD(params, c.lr(), c.momentum(), 0, c.weightDecay(), false);
            case "adam" -> new Adam(params, c.lr(), 0.9, 0.999, 1e-8, c.weightDecay());
            case "adamw" -> new AdamW(params, c.lr(), 0.9, 0.999, 1e-8, c.weightDecay());
            default -> throw new ConfigException("optimizer", "optimizer: '" + c.optimizer() + "' is not one of "
                    + String.join(", ", TrainConfig.OPTIMIZERS));
        };
    }

    /** constant; cosine to 0 over the steps after warm-up; step: x0.1 every third of the steps. Warm-up wraps any. */
    static LrSchedule schedule(TrainConfig c) {
        long after = Math.max(1, c.steps() - c.warmup());
        LrSchedule s = switch (c.schedule()) {
            case "constant" -> LrSchedule.constant();
            case "cosine" -> LrSchedule.cosine(after, 0);
            case "step" -> LrSchedule.step(Math.max(1, c.steps() / 3), 0.1);
            default -> throw new ConfigException("schedule", "schedule: '" + c.schedule() + "' is not one of "
                    + String.join(", ", TrainConfig.SCHEDULES));
        };
        return c.warmup() > 0 ? s.withWarmup(c.warmup()) : s;
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
        task.close();
    }
}
