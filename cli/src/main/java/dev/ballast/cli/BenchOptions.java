package dev.ballast.cli;

import dev.ballast.bench.ClipBench;
import dev.ballast.engine.Device;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every {@code bench} command shares ({@code --device}, {@code --json}, {@code --no-torch},
 * {@code --quick}), mixed into each with {@code @Mixin}, and the option checks they share. Failures are usage
 * errors (exit 2) naming what is allowed.
 */
final class BenchOptions {

    @Spec(Spec.Target.MIXEE) CommandSpec spec;

    @Option(names = "--device", paramLabel = "cpu|cuda|auto", defaultValue = "auto",
            description = "Where to run: cpu, cuda or auto (CUDA when a GPU answers). Default: ${DEFAULT-VALUE}.")
    String device;

    @Option(names = "--json", description = "Also print the results as one JSON line, the last line of stdout.")
    boolean json;

    @Option(names = "--no-torch", description = "Do not run PyTorch beside Ballast even when it is installed.")
    boolean noTorch;

    @Option(names = "--quick", description = "A smoke test: few repetitions, no timed warm-up (smaller buffers where the "
            + "command has them); the figures are noisier and may include JIT compilation.")
    boolean quick;

    /** The device named by {@code --device}. */
    Device device() {
        return device(spec, device);
    }

    /** {@code --quick}'s timing, else the command's own. */
    ClipBench.Timing timing(ClipBench.Timing full) {
        return quick ? ClipBench.Timing.QUICK : full;
    }

    /** Progress lines for stderr, flushed as they come. */
    Consumer<String> progress() {
        PrintWriter err = spec.commandLine().getErr();
        return line -> { err.println(line); err.flush(); };
    }

    /** Prints the table on stdout and, with {@code --json}, the JSON line after it (the last line of stdout). */
    void print(String table, String jsonLine) {
        PrintWriter out = spec.commandLine().getOut();
        out.print(table);
        if (json) out.println(jsonLine);
        out.flush();
    }

    /** The device named {@code name} (cpu, cuda or auto); an unknown name is a usage error. */
    static Device device(CommandSpec spec, String name) {
        String d = name.toLowerCase(Locale.ROOT);
        if (!List.of("cpu", "cuda", "auto").contains(d))
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "Invalid --device '" + name + "': allowed values are cpu, cuda, auto");
        return Device.named(d);
    }

    /** {@code text} as an integer in {@code [min, max]}; anything else is a usage error naming the range. */
    static int intInRange(CommandSpec spec, String option, String text, int min, int max) {
        int v;
        try {
            v = Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            v = min - 1;
        }
        if (v < min || v > max)
            throw new CommandLine.ParameterException(spec.commandLine(), "Invalid " + option + " value '" + text
                    + "': allowed values are integers from " + min + " to " + max);
        return v;
    }
}
