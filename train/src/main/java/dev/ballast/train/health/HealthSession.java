package dev.ballast.train.health;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.AnomalyException;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.io.Json;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardEvent;
import dev.ballast.stability.guard.GuardLog;
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
import java.util.Set;

/**
 * Gradient health for a built-in run: installs the monitor (every {@code monitorEvery} steps; 0 = off) as a trainer
 * hook, reports the explosion guard when the run's chain has one (its events and learning-rate backoff are read on
 * logged steps, where the trainer syncs anyway), and after the run (or when it diverged) produces the diagnosis
 * findings, the guard summary, and the JSON lines for the metrics file. The guard and adaptive clipping themselves
 * are links of the run's gradient chain ({@code guard} and {@code clipAdaptive} settings).
 */
public final class HealthSession implements AutoCloseable {
    /** What to switch on: monitor interval (0 = off) and a TensorBoard log directory (null = off). */
    public record Options(long monitorEvery, Path tensorboard) {
        public Options {
            if (monitorEvery < 0) throw new IllegalArgumentException("monitor-every must be >= 0 (0 = off), got " + monitorEvery);
        }
    }

    private final BuiltinTraining run;
    private final MonitorHook monitor;
    private final GuardReportHook guard;
    private final TensorBoardHook tensorboard;

    private HealthSession(BuiltinTraining run, MonitorHook monitor, GuardReportHook guard, TensorBoardHook tb) {
        this.run = run;
        this.monitor = monitor;
        this.guard = guard;
        this.tensorboard = tb;
    }

    /** Adds the hooks to {@code b}; guard events are printed to {@code log} when the trainer reads them. */
    public static HealthSession install(BuiltinTraining run, Trainer.Builder b, Options o, PrintWriter log) {
        MonitorHook m = o.monitorEvery() > 0 ? new MonitorHook(new GradientMonitor(run.model().namedParameters(), o.monitorEvery())) : null;
        var lossScaler = run.lossScaler();
        if (m != null && lossScaler != null) m.monitor().lossScale(lossScaler::scale); // fp16: read before the chain unscales
        ExplosionGuard eg = find(run.chain());
        GuardReportHook g = eg == null ? null
                : new GuardReportHook(new GuardLog(eg, run.chain().stateOf(eg)), log);
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
        if (tb != null) b.hook(tb);
        return new HealthSession(run, m, g, tb);
    }

    /** The first explosion guard among the chain's links (nested chains included), or null. */
    static ExplosionGuard find(GradientChain chain) {
        for (Link l : chain.links()) {
            if (l instanceof ExplosionGuard g) return g;
            if (l instanceof GradientChain c && find(c) instanceof ExplosionGuard g) return g;
        }
        return null;
    }

    /** The TensorBoard hook (to add {@code amp/loss_scale} with {@code lossScale}), or null when off. */
    public TensorBoardHook tensorboard() { return tensorboard; }

    /** The monitor, or null when off. */
    public GradientMonitor monitor() { return monitor == null ? null : monitor.monitor(); }

    /** The guard's log (events, counters), or null when the chain has no guard. */
    public GuardLog guard() { return guard == null ? null : guard.log(); }

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

    /** Summary lines for the guard: events by cause, steps applied, undone and kept out; empty without a guard. */
    public List<String> summaryLines(long iterations) {
        if (guard == null) return List.of();
        GuardLog g = guard.log();
        GuardLog.Reading r = g.last() != null ? g.last() : readNow(g);
        List<String> causes = new ArrayList<>();
        for (var e : r.byCause().entrySet()) if (e.getValue() > 0) causes.add(e.getValue() + " " + e.getKey());
        List<String> out = new ArrayList<>();
        out.add("guard events: " + r.events() + (causes.isEmpty() ? "" : " (" + String.join(", ", causes) + ")"));
        out.add(String.format(Locale.ROOT, "guard steps applied: %d of %d (%d kept out; %d rollbacks undid %d applied steps%s)",
                r.applied(), iterations, r.keptOut(), r.rollbacks(), r.undone(),
                r.clipped() > 0 ? "; " + r.clipped() + " spiking steps applied clipped to the threshold" : ""));
        if (g.guard().policies().stream().anyMatch(p -> p instanceof GuardPolicy.Backoff))
            out.add(String.format(Locale.ROOT, "guard lr backoff: factor %.4g at the end%s", r.lrFactor(),
                    r.lrFactor() < 1 ? " (one cut undone after " + r.backoffLeft() + " more quiet steps)" : ""));
        return out;
    }

    private static GuardLog.Reading readNow(GuardLog g) {
        g.poll();
        return g.last();
    }

    /** Appends guard events (key {@code guard}) and findings (key {@code finding}) to a JSON-lines metrics file. */
    public void appendToMetrics(Path metrics, List<Finding> findings) {
        if (metrics == null) return;
        StringBuilder sb = new StringBuilder();
        if (guard != null) for (GuardEvent e : guard.log().events()) sb.append(Json.write(e.toJson())).append('\n');
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
        return new ModelTraits(recurrent, gated, residual, residual, activation, c.lr(), c.clip(), c.lossScaled());
    }

    @Override public void close() {
        if (tensorboard != null) {
            try {
                tensorboard.close();
            } catch (IOException e) {
                throw new UncheckedIOException("tensorboard: closing " + tensorboard.writer().file() + ": " + e.getMessage(), e);
            }
        }
    }
}
