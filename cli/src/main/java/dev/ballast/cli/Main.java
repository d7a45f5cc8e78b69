package dev.ballast.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code ballast} command. Exit codes: 0 success, 1 the command failed (one-line message on stderr),
 * 2 bad usage (message and usage on stderr).
 */
@Command(name = "ballast",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Ballast: a Java tensor engine with stability tooling for training deep networks without blow-ups.",
        subcommands = {DoctorCommand.class, BenchCommand.class, VerifyReferenceCommand.class, TrainCommand.class, DemoCommand.class, ReportCommand.class, ProbeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Spec CommandSpec spec;

    /** Runs the command line and exits the JVM with its exit code. */
    public static void main(String[] args) {
        System.exit(newCommandLine().execute(args));
    }

    /** A configured command line; tests call this and {@code execute} it with captured output. */
    public static CommandLine newCommandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(Main::reportFailure);
        return cl;
    }

    /** {@code ballast} alone is a usage error: a command is required. */
    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: choose one of "
                + String.join(", ", spec.subcommands().keySet()));
    }

    // A command that throws is reported in one line (with the cause) rather than a stack trace; a
    // stack trace is still printed when -Dballast.trace=true asks for it.
    private static int reportFailure(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        StringBuilder msg = new StringBuilder(cl.getCommandSpec().qualifiedName()).append(": error: ").append(describe(e));
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) msg.append("; caused by ").append(describe(c));
        err.println(msg);
        if (Boolean.getBoolean("ballast.trace")) e.printStackTrace(err);
        err.flush();
        return 1;
    }

    private static String describe(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
