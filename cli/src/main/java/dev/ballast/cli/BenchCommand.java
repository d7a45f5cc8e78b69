package dev.ballast.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code ballast bench}: groups the benchmark drivers; it does nothing by itself. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Run a benchmark.",
        subcommands = {CpuMatmulCommand.class, ClipBenchCommand.class, MatmulBenchCommand.class, OpsBenchCommand.class,
                StepBenchCommand.class})
public final class BenchCommand implements Runnable {

    @Spec CommandSpec spec;

    /** {@code ballast bench} alone is a usage error: a benchmark must be named. */
    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing benchmark: choose one of "
                + String.join(", ", spec.subcommands().keySet()));
    }
}
