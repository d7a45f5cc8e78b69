package dev.ballast.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code ballast probe}: groups the network probes; it does nothing by itself. */
@Command(name = "probe", mixinStandardHelpOptions = true, description = "Probe a network's gradients.",
        subcommands = {ShatterCommand.class})
public final class ProbeCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing probe: choose one of "
                + String.join(", ", spec.subcommands().keySet()));
    }
}
