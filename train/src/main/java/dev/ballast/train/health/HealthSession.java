package dev.ballast.train.health;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.AnomalyException;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.io.Json;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardEvent;
import dev.ballast.stability.guard.GuardPolicy;
import dev.ballast.stability.monitor.Diagnosis;
import dev.ballast.stability.monitor.Finding;
import dev.ballast.stability.monitor.GradientMonitor;
import dev.ballast.stability.monitor.ModelTraits;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.tensorboard.EventFileWriter;
import dev.ballast.train.tensorboard.TensorBoardHook;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Gradient health for a built-in run: installs the monitor (every {@code monitorEvery} steps; 0 = off) and the
 * explosion guard (policies, or null for none) as trainer hooks, and after the run (or when it diverged) produces
 * the diagnosis findings, the guard summary, and the JSON lines for the metrics file.
 */
public final class HealthSession implements AutoCloseable {
    /**
     * What to switch on: monitor interval (0 = off), guard policies ({@code skip}, {@code backoff:F:N},
     * {@code rollback}; null = off), adaptive clipping ({@code agc:λ}, {@code autoclip:p}, {@code zclip:z}; null = off)
     * and a TensorBoard log directory (null = off).
     */
    public record Options(long monitorEvery, String guard, String clipAdaptive, Path tensorboard) {
        public Options {
            if (monitorEvery < 0) throw new IllegalArgumentException("monitor-every must be >= 0 (0 = off), got " + monitorEvery);
            if (guard != null) GuardPolicy.parse(guard); // fail early with the allowed policies
            if (clipAdaptive != null) AdaptiveClipHook.spec(clipAdaptive);
        }

        /** Monitor every {@code monitorEvery} steps, guard {@code guard}, nothing else. */
        public Options(long monitorEvery, String guard) { this(monitorEvery, guard, null, null); }
    }

    private final BuiltinTraining run;
    private final MonitorHook monitor;
    private final GuardHook guard;
    private final AdaptiveClipHook adaptive;
    private final TensorBoardHook tensorboard;

    private HealthSession(BuiltinTraining run, MonitorHook monitor, GuardHook guard, AdaptiveClipHook adaptive, TensorBoardHook tb) {
        this.run = run;
        this.monitor = monitor;
        this.guard = guard;
        this.adaptive = adaptive;
        this.tensorboard = tb;
    }

    /** Adds the hooks to {@code b}; guard events are printed to {@code log} as they happen. */
    public static HealthSession install(BuiltinTraining run, Trainer.Builder b, Options o, PrintWriter log) {
        MonitorHook m = o.monitorEvery() > 0 ? new MonitorHook(new GradientMonitor(run.model().namedParameters(), o.monitorEvery())) : null;
        GuardHook g = null;
        if (o.guard() != null) {
            ExplosionGuard eg = new ExplosionGuard(GuardPolicy.parse(o.guard()), run.model().namedParameters(), run.optimizer(),
                    ExplosionGuard.Settings.defaults());
            g = new GuardHook(eg, run.model().parameters(), log, run.lossScaler() == null ? null : run.lossScaler().scale());
            run.stopOnNonFiniteLoss(false); // the guard keeps non-finite steps out itself
        }
        AdaptiveClipHook a = o.clipAdaptive() == null ? null : AdaptiveClipHook.parse(o.clipAdaptive(), run.model().parameters(), run.device());
        TensorBoardHook tb = null;
        if (o.tensorboard() != null) {
            try {
                tb = new TensorBoardHook(new EventFileWriter(o.tensorboard()), m == null ? null : m::latest);
                var scaler = run.lossScaler();
                if (scaler != null) tb.lossScale(() -> scaler.scale().item()); // amp/loss_scale (fp16 runs)
            } catch (IOException e) {
                throw new UncheckedIOException("tensorboard: cannot write to " + o.tensorboard() + ": " + e.getMessage(), e);
            }
        }
        if (m != null) b.hook(m);
        if (g != null) b.hook(g);
        if (a != null) b.hook(a);
        if (tb != null) b.hook(tb);
        return new HealthSession(run, m, g, a, tb);
    }

    /** The TensorBoard hook (to add {@code amp/loss_scale} with {@code lossScale}), or null when off. */
    public TensorBoardHook tensorboard() { return tensorboard; }

    /**
     * {@code model} with the adaptive clipper's state added under {@code adaptive_clip.<kind>.}, read afresh each time
     * it is iterated, for checkpoints.
     */
    public Map<String, Tensor> withClipState(Map<String, Tensor> model) {
        if (adaptive == null) return model;
        return new java.util.AbstractMap<>() {
            @Override public Set<Entry<String, Tensor>> entrySet() {
                Map<String, Tensor> all = new java.util.LinkedHashMap<>(model);
                all.putAll(adaptive.state());
                return all.entrySet();
            }
        };
    }

    /** The monitor, or null when off. */
    public GradientMonitor monitor() { return monitor == null ? null : monitor.monitor(); }

    /** The guard, or null when off. */
    public ExplosionGuard guard() { return guard == null ? null : guard.guard(); }

    /** Findings at the end of a run that finished. */
    public List<Finding> findings() {
        if (monitor == null) return List.of();
        return Diagnosis.diagnose(monitor.monitor().history(), monitor.monitor().firstNonFinite(), 0, Double.NaN, traits(run.config()));
    }

    /**
     * Findings for a run stopped at {@code step} by a non-finite loss: the step's batch is replayed (forward and
     * backward, nothing applied) to read which gradients are non-finite, then again under anomaly mode to name the op
     * and module that made the first non-finite value.
     */
    public List<Finding> diverged(long step, double loss) {
        if (monitor == null) return List.of();
        GradientMonitor mon = monitor.monitor();
        long it = step - 1, per = run.loader().batchesPerEpoch();
        replay(it, per, false);
        mon.inspect(step);
        String[] anomaly = replay(it, per, true);
        if (anomaly != null) mon.attributeNonFinite(step, anomaly[0], anomaly[1], Boolean.parseBoolean(anomaly[2]));
        run.optimizer().zeroGrad();
        return Diagnosis.diagnose(mon.history(), mon.firstNonFinite(), step, loss, traits(run.config()));
    }

    /** Forward and backward of iteration {@code it}'s batch; with anomaly mode, the op/module/inBackward it names (or null). */
    private String[] replay(long it, long per, boolean anomaly) {
        run.optimizer().zeroGrad();
        try (Scope s = Scope.open(); GradMode.Guard a = anomaly ? GradMode.detectAnomaly() : () -> { }) {
            Batch b = run.loader().batch(it / per, it % per);
            Tensor l = run.task().loss(run.model().call(b.inputs()), b.targets());
            l.backward();
            return null;
        } catch (AnomalyException e) {
            return new String[] {e.op(), e.module(), Boolean.toString(e.inBackward())};
        }
    }

    /** Summary lines for the guard: events by cause, steps applied and kept, rollbacks; empty without a guard. */
    public List<String> summaryLines(long iterations, long keptSteps) {
        if (guard == null) return List.of();
        ExplosionGuard g = guard.guard();
        java.util.Map<String, Integer> byCause = new java.util.TreeMap<>();
        for (GuardEvent e : g.events()) byCause.merge(e.cause(), 1, Integer::sum);
        List<String> out = new ArrayList<>();
        out.add("guard events: " + g.events().size() + (byCause.isEmpty() ? "" : " (" + byCause.entrySet().stream()
                .map(e -> e.getValue() + " " + e.getKey()).reduce((a, b) -> a + ", " + b).orElse("") + ")"));
        out.add(String.format(Locale.ROOT, "guard steps applied: %d of %d (%d kept after %d rollbacks; %d steps kept out)",
                guard.applied(), iterations, keptSteps, g.rollbacks(), g.skipped()));
        return out;
    }

    /** Appends guard events (key {@code guard}) and findings (key {@code finding}) to a JSON-lines metrics file. */
    public void appendToMetrics(Path metrics, List<Finding> findings) {
        if (metrics == null) return;
        StringBuilder sb = new StringBuilder();
        if (guard != null) for (GuardEvent e : guard.guard().events()) sb.append(Json.write(e.toJson())).append('\n');
        for (Finding f : findings) sb.append(Json.write(f.toJson())).append('\n');
        if (sb.isEmpty()) return;
        try {
            Files.writeString(metrics, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("appending findings to " + metrics + ": " + e.getMessage(), e);
        }
    }

    /** What the diagnosis should know of a built-in model. */
    public static ModelTraits traits(TrainConfig c) {
        boolean recurrent = Set.of("rnn", "lstm", "gru").contains(c.model());
        boolean gated = Set.of("lstm", "gru").contains(c.model());
        boolean residual = Set.of("resmlp", "transformer").contains(c.model());
        String activation = switch (c.model()) {
            case "rnn" -> "tanh";
            case "lstm", "gru" -> "";
            case "transformer" -> "gelu";
            default -> c.activation();
        };
        return new ModelTraits(recurrent, gated, residual, residual, activation, c.lr(), c.clip(), c.precision().equals("fp16"));
    }

    @Override public void close() {
        if (guard != null) guard.guard().close();
        if (adaptive != null) adaptive.close();
        if (tensorboard != null) {
            try {
                tensorboard.close();
            } catch (IOException e) {
                throw new UncheckedIOException("tensorboard: closing " + tensorboard.writer().file() + ": " + e.getMessage(), e);
            }
        }
    }
}
