package dev.ballast.cli;

import dev.ballast.stability.chain.TooManySkippedStepsException;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.DivergedException;
import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.report.RunLog;
import dev.ballast.train.report.RunRecorder;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/**
 * Runs one of the demo's training runs the way {@code ballast train --out} does (same model, data, gradient chain
 * and recorder, {@link TrainCommand#record}), with a progress bar named after the run on a console. A run whose
 * loss goes non-finite is an outcome here, not a failure: it stops there and its log says where.
 */
final class DemoRunner {
    /**
     * What one run gave: its log, the trainer's result (null when it diverged), its wall time and the CPU time the
     * whole process spent meanwhile (every thread: the run's pool, JIT, GC), the measure that does not depend on how
     * loaded a shared machine is.
     */
    record Outcome(RunLog log, Trainer.Result result, double seconds, double cpuSeconds) {
        boolean diverged() { return log.divergedAt() > 0; }

        /** The last evaluation of the task's metric; NaN when it diverged before one. */
        double metric(String name) { return result == null ? Double.NaN : result.lastEval().getOrDefault(name, Double.NaN); }
    }

    private final boolean console;
    private final PrintWriter err;

    DemoRunner(boolean console, PrintWriter err) {
        this.console = console;
        this.err = err;
    }

    Outcome run(String name, String title, TrainConfig c) {
        long t0 = System.nanoTime(), cpu0 = processCpuNanos();
        try (BuiltinTraining run = BuiltinTraining.create(c);
             TrainProgress progress = console ? new TrainProgress.Bar(name, c.steps()) : new Quiet()) {
            RunRecorder recorder = new RunRecorder(run.model().namedParameters(), run.optimizer(), c.logEvery(), c.steps(), 0, progress);
            Trainer.Builder b = run.trainer(recorder);
            TrainCommand.record(b, recorder, run.lossScaler()); // unscaled norms and the loss-scale chart for fp16
            Trainer.Result r = null;
            try {
                r = b.build().run();
            } catch (DivergedException e) {
                recorder.diverged(e.step(), e.loss());
            } catch (TooManySkippedStepsException e) {
                err.println("  " + name + ": " + e.getMessage());
            }
            progress.close();
            double secs = (System.nanoTime() - t0) / 1e9;
            RunLog log = TrainCommand.runLog(recorder, c, run, r, name, title);
            String metric = run.task().metric();
            double cpu = (processCpuNanos() - cpu0) / 1e9;
            err.println(String.format(Locale.ROOT, "  %-24s %s  (%d steps, %.1f s, %.1f CPU-s)", name,
                    r == null ? "diverged: loss not finite at step " + recorder.divergedAt()
                            : String.format(Locale.ROOT, "test %s %.4g", metric, r.lastEval().getOrDefault(metric, Double.NaN)),
                    r == null ? recorder.divergedAt() : r.iterations(), secs, cpu));
            err.flush();
            return new Outcome(log, r, secs, cpu);
        }
    }

    /** CPU time of this process so far, all threads (NaN's stand-in -1 where the platform cannot say). */
    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getProcessCpuTime();
        return -1;
    }

    /** No per-step output off a console: one line per run is printed when it ends. */
    private static final class Quiet extends TrainProgress {
        @Override public void onLoss(long step, double loss) {}

        @Override public void onEval(long step, Map<String, Double> m) {}
    }
}
