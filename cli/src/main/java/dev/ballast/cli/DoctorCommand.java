package dev.ballast.cli;

import dev.ballast.engine.Device;
import dev.ballast.engine.backend.Backend;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import jdk.incubator.vector.FloatVector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code ballast doctor}: prints, as {@code key: value} lines, the Java runtime, the SIMD width, the
 * CPU thread count, which backend was chosen and why, every backend found with whether it opened,
 * and the chosen backend's facts. Exits 0 whether or not a GPU (or any backend) is there: a missing
 * backend is a finding to report, not a failure of the command.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Show the Java runtime, SIMD width, CPU threads and which backends (CPU, CUDA) are available and why.")
public final class DoctorCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        for (String line : environmentLines()) out.println(line);
        for (String line : backendLines(Device::statuses, Device::autoReason, () -> Device.auto().backend())) out.println(line);
        for (String line : dev.ballast.dist.Communicators.statusLines()) out.println(line);
        out.flush();
        return 0;
    }

    /** The JVM, vector and thread lines. */
    static List<String> environmentLines() {
        var species = FloatVector.SPECIES_PREFERRED;
        return List.of(
                "java: " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")",
                "vector: " + species.vectorBitSize() + " bits (" + species.length() + " x f32)",
                "threads: " + CpuThreads.current());
    }

    /**
     * The backend lines: the choice and its reason ({@code backend: none (...)} when nothing opens),
     * one line per backend found, then the chosen backend's facts as {@code <name>.<key>: <value>}.
     * The sources are passed in so that tests can exercise every branch without a real backend.
     */
    static List<String> backendLines(Supplier<List<Device.Status>> statuses, Supplier<String> autoReason,
                                     Supplier<Backend> chosen) {
        List<String> lines = new ArrayList<>();
        List<Device.Status> found;
        try {
            found = statuses.get();
        } catch (RuntimeException | LinkageError e) {
            lines.add("backend: none (probing backends failed: " + describe(e) + ")");
            return lines;
        }
        Backend backend = null;
        try {
            String reason = autoReason.get();
            backend = chosen.get();
            lines.add("backend: " + reason);
        } catch (RuntimeException e) {
            lines.add("backend: none (" + (found.isEmpty()
                    ? "no backend found on the class path; the jar needs ballast-cpu-fallback or ballast-kernels"
                    : describe(e)) + ")");
        }
        for (Device.Status s : found) {
            lines.add(s.name() + ": " + (s.available() ? "available" : "unavailable") + " (" + s.detail() + ")");
        }
        if (backend != null) {
            try {
                for (Map.Entry<String, String> fact : backend.facts().entrySet()) {
                    lines.add(backend.name() + "." + fact.getKey() + ": " + fact.getValue());
                }
            } catch (RuntimeException e) {
                lines.add(backend.name() + ".facts: unavailable (" + describe(e) + ")");
            }
        }
        return lines;
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
