package dev.ballast.train.builtin;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
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
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.stability.chain.ChainSpec;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.scale.GradScaler;
import dev.ballast.train.DataParallel;
import dev.ballast.train.DivergedException;
import dev.ballast.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Everything a built-in run needs, made from a {@link TrainConfig}: the device, the task's data, the model (F32,
 * initialized from {@code seed}), the optimizer, the schedule and a shuffled loader (seeded, last partial batch
 * dropped), wired into a {@link Trainer.Builder} by {@link #trainer(Listener)}. Every {@code logEvery} steps and at
 * the last step the loss is read: a non-finite loss stops the run with a {@link DivergedException}.
 *
 * <p>The step is the stability layer's {@link GradientChain}: the config's chain in effect
 * ({@link TrainConfig#effectiveChain()}: the explicit {@code chain}, else skip non-finite, adaptive clipping, clip by
 * value, clip by norm in that order) followed by the optimizer, with the config's consecutive-skip limit naming the
 * model's parameters.
 *
 * <p>With {@code precision} bf16 or fp16 the forward passes (training and evaluation) run under {@link Autocast}
 * (matrix products in the low precision with F32 accumulation; reductions, softmax, losses in F32), the parameters
 * stay F32 and the optimizer keeps low-precision working copies of them, written by its fused update. fp16 adds a
 * {@link GradScaler} with torch.amp.GradScaler's defaults: the trainer scales the loss before backward and the chain
 * starts with {@code unscale(scaler)} (overflow check, division by the scale folded into the optimizer's pass, the
 * step skipped on overflow, the scale moved), so a skipped step advances neither the optimizer's step count nor the
 * learning-rate schedule ({@code lossScale} a number: a static scale; none: no scaler and no unscale, so small
 * gradients flush to zero as in autocast without a GradScaler). Owns what it makes: {@link #close()} frees it all.
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
    private final GradientChain chain;
    private final DType autocast;         // null for fp32
    private final GradScaler lossScaler;  // fp16 only
    private long lastStep;
    private DataParallel dataParallel;

    private BuiltinTraining(TrainConfig c, Device device) {
        this.config = c;
        this.device = device;
        this.generator = new Generator(c.seed());
        BuiltinTasks.Task t = BuiltinTasks.build(c, device);
        Module m = null;
        Optimizer o = null;
        GradScaler scaler = null;
        this.autocast = switch (c.precision()) {
            case "bf16" -> DType.BF16;
            case "fp16" -> DType.F16;
            default -> null;
        };
        try {
            m = BuiltinModels.build(c, t, new ParamSpec(device, DType.F32, generator));
            o = optimizer(c, m.parameters());
            if (autocast != null) o.keepWorkingCopies(autocast); // refreshed by the optimizer's own update pass
            if (c.lossScaled()) scaler = Double.isNaN(c.staticLossScale()) ? new GradScaler(device)
                    : new GradScaler(device, dev.ballast.stability.scale.LossScalePolicy.staticScale(c.staticLossScale()));
            this.chain = chain(c, o, scaler, List.copyOf(m.namedParameters().keySet()));
            this.optimizer = o;
            this.lossScaler = scaler;
        } catch (RuntimeException e) {
            if (scaler != null) scaler.close();
            if (o != null) o.close();
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

    /** The gradient chain the trainer steps through (its last link applies {@link #optimizer()}). */
    public GradientChain chain() { return chain; }

    /**
     * The loss scaler of an fp16 run: dynamic (torch.amp.GradScaler's defaults) or static ({@code lossScale} a
     * number); null for fp32, bf16 and fp16 with {@code lossScale} none.
     */
    public GradScaler lossScaler() { return lossScaler; }

    /** The autocast dtype of this run's forward passes (F16 or BF16), or null for fp32. */
    public DType autocast() { return autocast; }

    /** Runs {@code body} under this run's autocast (as it is for fp32). */
    public <T> T inPrecision(Supplier<T> body) {
        if (autocast == null) return body.get();
        try (Autocast.Guard g = Autocast.enable(autocast)) {
            return body.get();
        }
    }

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
                .chain(chain)
                .lossScaler(lossScaler)
                .progress(new dev.ballast.train.ProgressReporter(System.err, config.steps(), false));
        if (dp != null) b.dataParallel(dp);
        return b;
    }

    /** The training loss of a batch; reads it every logEvery steps and at the end, throwing when it is not finite. */
    Function<Batch, Tensor> loss(Listener l) {
        long perEpoch = loader.batchesPerEpoch();
        return batch -> {
            long step = batch.epoch() * perEpoch + batch.index() + 1;
            lastStep = step;
            Tensor loss = inPrecision(() -> task.loss(model.call(batch.inputs()), batch.targets()));
            if (step % config.logEvery() == 0 || step == config.steps()) {
                double v = dataParallel == null ? loss.item() : dataParallel.mean(loss);
                if (!Double.isFinite(v) && stopsOnNonFiniteLoss()) throw new DivergedException(step, v);
                l.onLoss(step, v);
            }
            return loss;
        };
    }

    /**
     * Whether a non-finite logged loss stops the run with a {@link DivergedException}: yes, unless the chain
     * recovers from non-finite steps itself ({@code Link.NonFiniteSteps.RECOVERED}: the explosion guard); a chain
     * that only skips them still stops, since a non-finite loss from the weights would recur at every step.
     */
    public boolean stopsOnNonFiniteLoss() { return chain.nonFiniteSteps() != Link.NonFiniteSteps.RECOVERED; }

    /** Evaluation on the test set in eval mode: {@code loss} and the task's metric. */
    Supplier<Map<String, Double>> eval(Listener l) {
        return () -> {
            model.eval();
            try {
                Map<String, Double> m = inPrecision(() -> task.evaluate(model::call, EVAL_CHUNK));
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

    /**
     * The chain in effect followed by {@code apply(optimizer)}, with the config's skip limit; {@code unscale} links use
     * {@code scaler} (the fp16 run's, else null).
     */
    static GradientChain chain(TrainConfig c, Optimizer optimizer, GradScaler scaler, List<String> parameterNames) {
        List<Link> links;
        try {
            links = new ArrayList<>(ChainSpec.links(c.effectiveChain(), new ChainSpec.Context(scaler)));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("chain", e.getMessage());
        }
        links.add(Link.apply(optimizer));
        return GradientChain.of(links).maxConsecutiveSkips((int) c.maxConsecutiveSkips(), parameterNames);
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
        chain.close();
        if (lossScaler != null) lossScaler.close();
        optimizer.close();
        model.close();
        task.close();
    }
}
