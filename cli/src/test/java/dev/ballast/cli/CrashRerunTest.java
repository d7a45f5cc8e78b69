package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.CrashHook;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill-and-rerun as tests: a child JVM runs {@code ballast train} with {@code -Dballast.crash} (the process halts
 * like {@code kill -9} before or halfway through writing the checkpoint of a given step); then the same command
 * with {@code --resume} finishes the run, bit-identical to one that was never killed, and the killed save's
 * temporary file is gone.
 */
class CrashRerunTest {
    @TempDir Path dir;

    record Result(int exit, String output) {}

    /** {@code ballast ARGS} in a fresh JVM with {@code crash} (may be null) as the crash hook property. */
    static Result child(String crash, String... args) throws IOException, InterruptedException {
        return child(List.of(), crash, args);
    }

    /** {@link #child(String, String...)} with extra JVM options (e.g. a JIT setting). */
    static Result child(List<String> jvmOptions, String crash, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m"));
        cmd.addAll(jvmOptions);
        if (crash != null) cmd.add("-D" + CrashHook.PROPERTY + "=" + crash);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child did not finish: " + out);
        return new Result(p.exitValue(), out);
    }

    static List<String> temporaries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList();
        }
    }

    @Test void killedDuringAndBeforeASaveThenResumedMatchesAnUninterruptedRun() throws Exception {
        Path straight = dir.resolve("straight.safetensors");
        assertEquals(0, Run.of(TrainResumeTest.args("--steps", "10", "--checkpoint", straight.toString())).exitCode());
        for (String when : new String[]{"during-save", "before-save"}) {
            Path c = dir.resolve(when + ".safetensors");
            String[] cmd = TrainResumeTest.args("--steps", "10", "--checkpoint", c.toString(), "--resume");
            Result killed = child(when + ":10", cmd);
            assertEquals(CrashHook.EXIT_STATUS, killed.exit(), killed.output());
            assertTrue(killed.output().contains("crash " + when + " at step 10"), killed.output());
            // the pointer is on the last complete checkpoint; a kill mid-write leaves its temporary file behind
            assertEquals(5, Checkpoint.inspect(c).step(), when);
            if (when.equals("during-save")) assertFalse(temporaries(dir).isEmpty(), "the killed write left its temporary file");
            Result rerun = child(null, cmd);
            assertEquals(0, rerun.exit(), rerun.output());
            assertEquals(10, Checkpoint.inspect(c).step());
            assertEquals(List.of(), temporaries(dir), "the next save removed the stale temporary file");
            TrainResumeTest.assertBitIdentical(TrainResumeTest.tensors(straight), TrainResumeTest.tensors(c));
        }
    }
}
