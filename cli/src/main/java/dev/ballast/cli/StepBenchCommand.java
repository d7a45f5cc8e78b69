package dev.ballast.cli;

import dev.ballast.bench.TorchProcess;
import dev.ballast.bench.step.StepBench;
import dev.ballast.bench.step.StepModels;
import dev.ballast.bench.step.StepSpec;
import dev.ballast.engine.Device;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast bench step}: full training steps of the reference models ({@link StepBench}) beside PyTorch running
 * the same models in the same command, as ratios. Table on stdout; with {@code --json} one JSON line follows, the
 * last line of stdout. Progress goes to stderr. Bad options are usage errors (exit 2) naming the allowed values.
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = {"Full training step (forward, backward, clip by global norm 1.0, optimizer) of reference models,",
                "median after warm-up (until the JIT has compiled the step), beside PyTorch (eager, fused Adam/AdamW) running the",
                "same models, as ratios.",
                "PyTorch is python3's (or $" + TorchProcess.PYTHON_ENV + "'s) torch; PYTHONPATH reaches one installed elsewhere."})
public final class StepBenchCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin BenchOptions bench;

    @Option(names = "--models", split = ",", paramLabel = "NAME",
            description = "Models to run, comma-separated (default all): mlp, rnn, lstm, transformer, mlp50, lstm256, gpt.")
    List<String> models;

    @Override public Integer call() {
        Device dev = bench.device();
        List<StepSpec> specs;
        try {
            specs = StepModels.select(models);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Invalid --models: " + e.getMessage());
        }
        StepBench.Result r = StepBench.run(dev, specs, bench.timing(StepBench.DEFAULT), !bench.noTorch, bench.progress());
        bench.print(table(r), r.toJson());
        return 0;
    }

    /** The table: one row per model, then what PyTorch was and what the columns mean. */
    static String table(StepBench.Result r) {
        StringBuilder sb = new StringBuilder();
        String nl = System.lineSeparator();
        sb.append(String.format(Locale.ROOT, "device %s (%s), %d threads%n", r.device(), r.description(), r.threads()));
        String head = "%-12s %10s %11s %10s %7s %12s %13s %12s %14s %16s%n";
        sb.append(String.format(Locale.ROOT, head, "model", "params", "ballast ms", "torch ms", "ratio", "faults/step",
                "native/step", "heap KB/step", "torch faults", "warm-up"));
        for (StepBench.ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, "%-12s %,10d %11.3f %10s %7s %12.1f %13.1f %12.1f %14s %16s%n", m.name(), m.params(),
                    m.ballastMs(), m.torchMs() == null ? "n/a" : String.format(Locale.ROOT, "%.3f", m.torchMs()),
                    m.ratio() == null ? "n/a" : String.format(Locale.ROOT, "%.2f", m.ratio()), m.faultsPerStep(),
                    m.nativeAllocsPerStep(), m.heapBytesPerStep() / 1024,
                    m.torchFaultsPerStep() == null ? "n/a" : String.format(Locale.ROOT, "%.1f", m.torchFaultsPerStep()),
                    String.format(Locale.ROOT, "%d in %.1fs%s", m.warmupSteps(), m.warmupSeconds(), m.jitQuiet() ? "" : "*")));
        }
        sb.append("PyTorch: ").append(r.torchNote()).append(nl);
        sb.append("ratio: ballast ms / torch ms (below 1: Ballast is faster); faults: minor page faults of the process per step;")
                .append(nl)
                .append("native: C-library (CPU) or driver (CUDA) allocations per step; heap: Java heap bytes the stepping thread allocated")
                .append(nl)
                .append("warm-up: Ballast steps run before timing, until the JIT compiler went quiet (* = still compiling at the cap)")
                .append(nl);
        return sb.toString();
    }
}
