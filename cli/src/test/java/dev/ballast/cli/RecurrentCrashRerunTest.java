package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.CrashHook;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kill-and-rerun for the recurrent models (their layers run the fused recurrent kernels): an RNN and an LSTM on the
 * adding problem, killed halfway through writing the checkpoint of step 10 and resumed to step 20, end bit-identical to
 * a run that was never killed. The uninterrupted run is made in this JVM after enough steps for C2 to have compiled
 * the cell kernels, the killed and resumed ones in fresh JVMs limited to C1 ({@code -XX:TieredStopAtLevel=1}), which
 * runs the Vector API's per-lane Java fallback: a kernel whose bits depend on the JIT tier (the vector math library's
 * float tanh/exp, as the cells had, made the peak gradient norm of an exploding RNN run differ from run to run) fails
 * here.
 */
class RecurrentCrashRerunTest {
    @TempDir Path dir;

    static String[] args(String model, String... more) {
        List<String> all = new ArrayList<>(List.of("train", "--task", "adding", "--model", model, "--seq-len", "20", "--hidden", "16",
                "--batch", "16", "--train-size", "256", "--test-size", "64", "--log-every", "5", "--device", "cpu"));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    @ParameterizedTest
    @ValueSource(strings = {"rnn", "lstm"})
    void killedAndResumedUnderC1MatchesAnUninterruptedRunUnderC2(String model) throws Exception {
        // warm the JIT: the cell and matrix kernels compiled by C2 in this JVM before the reference run
        Run warm = Run.of(args(model, "--steps", "200", "--eval-every", "200", "--checkpoint", dir.resolve("warm.safetensors").toString()));
        assertEquals(0, warm.exitCode(), warm.err());
        Path straight = dir.resolve("straight.safetensors");
        assertEquals(0, Run.of(args(model, "--steps", "20", "--eval-every", "5", "--checkpoint", straight.toString())).exitCode());

        Path c = dir.resolve("resumed.safetensors");
        String[] cmd = args(model, "--steps", "20", "--eval-every", "5", "--checkpoint", c.toString(), "--resume");
        List<String> c1 = List.of("-XX:TieredStopAtLevel=1");
        CrashRerunTest.Result killed = CrashRerunTest.child(c1, "during-save:10", cmd);
        assertEquals(CrashHook.EXIT_STATUS, killed.exit(), killed.output());
        assertTrue(killed.output().contains("crash during-save at step 10"), killed.output());
        assertEquals(5, Checkpoint.inspect(c).step());
        CrashRerunTest.Result rerun = CrashRerunTest.child(c1, null, cmd);
        assertEquals(0, rerun.exit(), rerun.output());
        assertEquals(20, Checkpoint.inspect(c).step());
        TrainResumeTest.assertBitIdentical(TrainResumeTest.tensors(straight), TrainResumeTest.tensors(c));
    }
}
