package dev.ballast.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Starts a test main class on N ranks with Open MPI's {@code mpirun}, on this JVM and class path. */
final class MpiRun {
    private MpiRun() {}

    /** The mpirun executable, or skips the calling test saying what to install. */
    static String mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) return p.toString();
        }
        Assumptions.abort("Open MPI's mpirun is not on PATH (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev); "
                + "multi-process tests skipped");
        return null;
    }

    /** The command line: mpirun with the flags a CI container needs, then java running {@code mainClass}. */
    static List<String> command(int ranks, Class<?> mainClass, String... args) {
        List<String> cmd = new ArrayList<>(List.of(mpirun(), "-n", Integer.toString(ranks), "--oversubscribe", "--bind-to", "none"));
        if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-run-as-root");
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-Xmx512m", "-Dballast.threads=1"));
        String cache = System.getProperty("ballast.cache.dir"); // the emulated stage's fresh kernel cache, where it sets one
        if (cache != null) cmd.add("-Dballast.cache.dir=" + cache);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Output (stdout and stderr together) and exit code of a finished run. */
    record Finished(int exitCode, String output, double seconds) {}

    static Process start(List<String> cmd, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMPI_MCA_btl_vader_single_copy_mechanism", "none"); // containers forbid CMA (ptrace)
        return pb.start();
    }

    static Finished run(List<String> cmd, Path log, long timeoutSeconds) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = start(cmd, log);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("mpirun did not finish within " + timeoutSeconds + " s: " + cmd + "\n" + Files.readString(log));
        }
        return new Finished(p.exitValue(), Files.readString(log), (System.nanoTime() - t0) / 1e9);
    }
}
