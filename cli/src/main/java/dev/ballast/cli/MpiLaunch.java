package dev.ballast.cli;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ballast train --nproc N}: starts the same command on N ranks of this machine with Open MPI's
 * {@code mpirun}, on this JVM (same executable, JVM options and class path), and waits for it. As root it adds
 * {@code --allow-run-as-root} (mpirun refuses root otherwise), and {@code --oversubscribe} when N exceeds the
 * processors (mpirun counts cores, not hardware threads). Each rank then finds its place from mpirun's environment.
 */
final class MpiLaunch {
    private MpiLaunch() {}

    /** Where mpirun was looked for, for the error message. */
    static Path findMpirun() {
        String override = System.getenv("BALLAST_MPIRUN");
        if (override != null && !override.isBlank()) return Path.of(override);
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "mpirun");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** The mpirun command line that runs {@code args} (the command's arguments without --nproc) on {@code n} ranks. */
    static List<String> command(Path mpirun, int n, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(mpirun.toString(), "-n", Integer.toString(n)));
        if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-run-as-root");
        if (n > Runtime.getRuntime().availableProcessors()) cmd.add("--oversubscribe");
        cmd.addAll(List.of("--bind-to", "none")); // the CPU backend runs its own thread pool per rank
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return cmd;
    }

    /** {@code args} without {@code --nproc N} / {@code --nproc=N}. */
    static List<String> withoutNproc(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--nproc")) i++;
            else if (!a.startsWith("--nproc=")) out.add(a);
        }
        return out;
    }

    /** Runs the command with this process's stdin, stdout and stderr; returns mpirun's exit code. */
    static int run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (p.isAlive()) p.destroy(); // Ctrl-C here stops mpirun, which stops the ranks
        }));
        return p.waitFor();
    }
}
