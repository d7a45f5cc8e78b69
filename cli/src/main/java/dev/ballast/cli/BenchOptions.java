package dev.ballast.cli;

import dev.ballast.engine.Device;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** Option checks shared by the {@code bench matmul} and {@code bench ops} commands; failures are usage errors (exit 2). */
final class BenchOptions {
    private BenchOptions() {}

    /** The device named by {@code --device} (cpu, cuda or auto); an unknown name is a usage error. */
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
