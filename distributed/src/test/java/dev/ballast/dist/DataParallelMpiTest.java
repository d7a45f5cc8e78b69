package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.dist.Communicator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two ranks under Open MPI's mpirun on this machine against one process on the combined batch: same loss curve and
 * weights (SGD and AdamW, clipping on), one rank's infinite gradient skips the step on both, and a rank killed
 * mid-run stops the other with an error within 60 s. Skipped with the reason when mpirun is not installed.
 */
class DataParallelMpiTest {
    static final int STEPS = 25;

    @TempDir Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"sgd", "adamw"})
    void twoRanksTrainLikeOneProcessOnTheCombinedBatch(String optimizer) throws Exception {
        var one = DataParallelProbe.train(Communicator.single(), optimizer, STEPS, -1, -1);
        var run = MpiRun.run(MpiRun.command(2, DataParallelProbe.class, optimizer, Integer.toString(STEPS), "-1", "-1", dir.toString()),
                dir.resolve("log.txt"), 180);
        assertEquals(0, run.exitCode(), run.output());
        var r0 = DataParallelProbe.read(dir.resolve("rank0.bin"));
        var r1 = DataParallelProbe.read(dir.resolve("rank1.bin"));
        assertArrayEquals(r0.weights(), r1.weights(), "replicas must stay bit-identical");
        assertEquals(STEPS, r0.losses().length);
        assertArrayEquals(one.losses(), r0.losses(), 1e-4, "loss curve of 2 ranks vs 1 process");
        assertArrayEquals(one.weights(), r0.weights(), 2e-4f, "weights of 2 ranks vs 1 process");
        assertEquals(STEPS, r0.optimizerSteps());
        assertTrue(one.losses()[STEPS - 1] < one.losses()[0], "the run must learn: " + one.losses()[0] + " -> " + one.losses()[STEPS - 1]);
    }

    @Test
    void anInfiniteGradientOnOneRankSkipsTheStepOnEveryRank() throws Exception {
        long inject = 7;
        var one = DataParallelProbe.train(Communicator.single(), "adamw", STEPS, inject, 0);
        var run = MpiRun.run(MpiRun.command(2, DataParallelProbe.class, "adamw", Integer.toString(STEPS), Long.toString(inject), "1",
                dir.toString()), dir.resolve("log.txt"), 180);
        assertEquals(0, run.exitCode(), run.output());
        var r0 = DataParallelProbe.read(dir.resolve("rank0.bin"));
        var r1 = DataParallelProbe.read(dir.resolve("rank1.bin"));
        assertEquals(STEPS - 1, r0.optimizerSteps(), "rank 0 skipped the step rank 1 overflowed on");
        assertEquals(STEPS - 1, r1.optimizerSteps());
        assertEquals(1, r0.skipped());
        assertEquals(1, r1.skipped());
        assertArrayEquals(r0.weights(), r1.weights(), "replicas must stay bit-identical");
        assertEquals(STEPS - 1, one.optimizerSteps());
        assertArrayEquals(one.weights(), r0.weights(), 2e-4f, "same as one process skipping that step");
    }

    @Test
    void killingOneRankStopsTheOtherWithAnErrorWithin60Seconds() throws Exception {
        Path log = dir.resolve("log.txt");
        Process p = MpiRun.start(MpiRun.command(2, DataParallelProbe.class, "sgd", "0", "-1", "-1", dir.toString()), log);
        try {
            Path pid1 = dir.resolve("rank1.pid");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!(Files.exists(pid1) && Files.exists(dir.resolve("rank0.pid"))) && System.nanoTime() < deadline && p.isAlive())
                Thread.sleep(200);
            assertTrue(Files.exists(pid1), "rank 1 never started:\n" + Files.readString(log));
            Thread.sleep(2000); // let both ranks get into their training loops
            long victim = Long.parseLong(Files.readString(pid1).strip());
            long t0 = System.nanoTime();
            ProcessHandle.of(victim).orElseThrow().destroyForcibly(); // SIGKILL: no chance to say goodbye
            boolean ended = p.waitFor(60, TimeUnit.SECONDS);
            double secs = (System.nanoTime() - t0) / 1e9;
            String out = Files.readString(log);
            assertTrue(ended, "the job was still running 60 s after rank 1 was killed:\n" + out);
            System.out.printf("job ended %.1f s after rank 1 was killed; output:%n%s%n", secs, out);
            assertNotEquals(0, p.exitValue(), out);
            assertTrue(out.contains("rank 0 of 2"), "rank 0 must say it stopped: \n" + out);
            assertTrue(out.contains("signal 9") || out.contains("killed") || out.contains("Killed"), "the launcher names the dead rank:\n" + out);
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }
}
