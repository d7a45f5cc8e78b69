package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.dist.Communicator;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.train.DataParallel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ranks under Open MPI's mpirun on this machine (one launch for all runs; JVM starts are what costs) against
 * one process on the combined batch: the collectives give the N-rank results, the loss curve and weights match
 * (SGD and AdamW, clipping on), one rank's infinite gradient skips the step on both; and a rank killed mid-run
 * stops the other with an error within 60 s. Skipped with the reason when mpirun is not installed.
 */
class DataParallelMpiTest {
    static final int STEPS = 25;
    static final long INJECT_STEP = 7;
    static final long GUARD_STEP = 17;
    /** 200 bytes: the probe's 2 -> 32 -> 32 -> 2 net in three buckets ({b3, w3}, {b2, w2}, {b1, w1}). */
    static final double SMALL_BUCKETS_MB = 0.0002;
    static final int OVERLAP_STEPS = 20;

    @TempDir static Path shared;
    static MpiRun.Finished run;

    @BeforeAll
    static void launchTwoRanks() throws Exception {
        String steps = Integer.toString(STEPS);
        run = MpiRun.run(MpiRun.command(2, DataParallelProbe.class, shared.toString(), "collectives",
                "sgd:" + steps + ":-1:-1", "adamw:" + steps + ":-1:-1", "adamw:" + steps + ":" + INJECT_STEP + ":1", "adamw:10:-1:-1:at10.safetensors",
                "guard:" + steps + ":" + GUARD_STEP + ":1",
                "sgd@0:" + steps + ":-1:-1", "sgd@" + SMALL_BUCKETS_MB + ":" + steps + ":-1:-1",
                "adamw@0:" + steps + ":-1:-1", "adamw@" + SMALL_BUCKETS_MB + ":" + steps + ":-1:-1",
                "sgd@" + SMALL_BUCKETS_MB + "@256@4:" + OVERLAP_STEPS + ":-1:-1"),
                shared.resolve("log.txt"), 300);
        System.out.printf("2-rank launch: %.1f s%n", run.seconds());
    }

    private static DataParallelProbe.Result result(int rank, int scenario) throws Exception {
        assertEquals(0, run.exitCode(), run.output());
        return DataParallelProbe.read(shared.resolve("rank" + rank + "-" + scenario + ".bin"));
    }

    @Test
    void collectivesGiveTheTwoRankResults() throws Exception {
        assertEquals(0, run.exitCode(), run.output());
        String expected = """
                sum.f32=[3.0, -2.0, 1.0]
                sum.f64=[1.0E-9, 2.0]
                sum.i64=[2199023255552, 1]
                sum.f16=[2.0, 6.0]
                sum.big=15000.0
                max=[1.0, 0.0, Infinity]
                bcast=[1.0, 10.0][1]
                """;
        for (int r = 0; r < 2; r++)
            assertEquals(expected + "rank=" + r + " size=2\n", Files.readString(shared.resolve("rank" + r + "-1.txt")));
    }

    @Test
    void twoRanksTrainLikeOneProcessWithSgd() throws Exception { compare("sgd", 2); }

    @Test
    void twoRanksTrainLikeOneProcessWithAdamW() throws Exception { compare("adamw", 3); }

    private static void compare(String optimizer, int scenario) throws Exception {
        var one = DataParallelProbe.train(Communicator.single(), optimizer, STEPS, -1, -1);
        var r0 = result(0, scenario);
        var r1 = result(1, scenario);
        assertArrayEquals(r0.weights(), r1.weights(), "replicas must stay bit-identical");
        assertEquals(STEPS, r0.losses().length);
        assertArrayEquals(one.losses(), r0.losses(), 1e-4, "loss curve of 2 ranks vs 1 process");
        assertArrayEquals(one.weights(), r0.weights(), 2e-4f, "weights of 2 ranks vs 1 process");
        assertEquals(STEPS, r0.optimizerSteps());
        assertTrue(one.losses()[STEPS - 1] < one.losses()[0], "the run must learn: " + one.losses()[0] + " -> " + one.losses()[STEPS - 1]);
    }

    @Test
    void bucketedGradientsTrainExactlyLikeOneAllReduceAfterBackwardWithSgd() throws Exception { compareBuckets("sgd", 2, 7, 8); }

    @Test
    void bucketedGradientsTrainExactlyLikeOneAllReduceAfterBackwardWithAdamW() throws Exception { compareBuckets("adamw", 3, 9, 10); }

    /**
     * One all-reduce after backward ({@code --bucket-mb 0}), one 25 MB bucket and three small buckets started from
     * backward's hooks give bit-identical replicas and losses (two ranks' sum is the same in any bucket), and all
     * of them follow one process on the combined batch.
     */
    private static void compareBuckets(String optimizer, int oneBucket, int unbucketed, int smallBuckets) throws Exception {
        var one = DataParallelProbe.train(Communicator.single(), optimizer, STEPS, -1, -1);
        var after = result(0, unbucketed);
        assertEquals(0, after.overlap().buckets(), "--bucket-mb 0 has no buckets");
        for (int scenario : new int[]{oneBucket, smallBuckets}) {
            var r0 = result(0, scenario);
            assertArrayEquals(after.weights(), r0.weights(), "scenario " + scenario + ": same weights as one all-reduce after backward");
            assertArrayEquals(after.losses(), r0.losses(), 0.0, "scenario " + scenario);
            assertArrayEquals(r0.weights(), result(1, scenario).weights(), "replicas must stay bit-identical");
        }
        assertEquals(new DataParallel.Overlap(STEPS, STEPS, STEPS, result(0, oneBucket).overlap().runningAtBackwardEnd(),
                result(0, oneBucket).overlap().doneAtBackwardEnd()), result(0, oneBucket).overlap(), "one 25 MB bucket per step");
        assertEquals(3L * STEPS, result(0, smallBuckets).overlap().startedInBackward(), "three buckets a step, all started by backward's hooks");
        assertArrayEquals(one.losses(), after.losses(), 1e-4, "loss curve of 2 ranks vs 1 process");
        assertArrayEquals(one.weights(), after.weights(), 2e-4f, "weights of 2 ranks vs 1 process");
    }

    /**
     * The overlap itself, from the events each rank recorded (not from timings): on a net of four 256 x 256 layers in
     * 200-byte buckets, every bucket's all-reduce was started by backward's hooks, and on some steps at least one of
     * them was already running on the communication thread (inside MPI_Allreduce, or finished) before backward returned.
     */
    @Test
    void bucketAllReducesRunWhileBackwardIsStillRunning() throws Exception {
        for (int rank = 0; rank < 2; rank++) {
            var o = result(rank, 11).overlap();
            System.out.printf("rank %d: %s%n", rank, o);
            assertEquals(OVERLAP_STEPS, o.steps());
            assertTrue(o.buckets() >= 8L * OVERLAP_STEPS, "about two buckets per layer: " + o);
            assertEquals(o.buckets(), o.startedInBackward(), "every bucket started during backward: " + o);
            assertTrue(o.runningAtBackwardEnd() > 0, "no all-reduce was running before backward returned: " + o);
        }
    }

    @Test
    void anInfiniteGradientOnOneRankSkipsTheStepOnEveryRank() throws Exception {
        var one = DataParallelProbe.train(Communicator.single(), "adamw", STEPS, INJECT_STEP, 0);
        var r0 = result(0, 4);
        var r1 = result(1, 4);
        assertEquals(STEPS - 1, r0.optimizerSteps(), "rank 0 skipped the step rank 1 overflowed on");
        assertEquals(STEPS - 1, r1.optimizerSteps());
        assertEquals(1, r0.skipped());
        assertEquals(1, r1.skipped());
        assertArrayEquals(r0.weights(), r1.weights(), "replicas must stay bit-identical");
        assertEquals(STEPS - 1, one.optimizerSteps());
        assertArrayEquals(one.weights(), r0.weights(), 2e-4f, "same as one process skipping that step");
    }

    /**
     * The explosion guard decides from the loss averaged over the ranks on the device: a loss spike on rank 1 alone
     * (its gradients untouched) rolls back both ranks at the same step, so the replicas stay bit-identical and follow
     * one process that sees the spike on the combined batch.
     */
    @Test
    void theGuardDecidesAlikeOnEveryRankFromTheAveragedLoss() throws Exception {
        var r0 = result(0, 6);
        var r1 = result(1, 6);
        assertArrayEquals(r0.weights(), r1.weights(), "replicas must stay bit-identical");
        assertEquals(1, r0.skipped(), "rank 0 kept out the step whose loss spiked on rank 1");
        assertEquals(1, r1.skipped());
        assertTrue(r0.losses()[(int) GUARD_STEP - 1] > 1000, "the logged loss is the ranks' mean: " + r0.losses()[(int) GUARD_STEP - 1]);
        var one = DataParallelProbe.train(Communicator.single(), "guard", STEPS, GUARD_STEP, 0);
        assertEquals(1, one.skipped());
        assertArrayEquals(one.weights(), r0.weights(), 2e-4f, "same as one process rolling back at that step");
    }

    @Test
    void rankZeroCheckpointsAndOneProcessResumesWhereTwoRanksStopped() throws Exception {
        var r0 = result(0, 5);
        Path ckpt = shared.resolve("at10.safetensors");
        assertEquals(10, Checkpoint.inspect(ckpt).step());
        try (var files = Files.list(shared)) {
            // one save: one step-numbered file (at10.step-00000010.safetensors) beside the at10.safetensors pointer
            assertEquals(1, files.filter(p -> p.getFileName().toString().matches("at10\\.step-\\d+\\.safetensors")).count(),
                    "rank 0 writes, alone");
        }
        var resumed = DataParallelProbe.train(Communicator.single(), "adamw", STEPS, -1, -1, null, ckpt);
        var straight = DataParallelProbe.train(Communicator.single(), "adamw", STEPS, -1, -1);
        assertEquals(STEPS - 10, resumed.losses().length);
        assertArrayEquals(java.util.Arrays.copyOfRange(straight.losses(), 10, STEPS), resumed.losses(), 1e-4,
                "2 ranks for 10 steps, then 1 process, follows the 1-process curve");
        assertArrayEquals(straight.weights(), resumed.weights(), 3e-4f);
        assertEquals(10, r0.optimizerSteps());
    }

    @Test
    void killingOneRankStopsTheOtherWithAnErrorWithin60Seconds(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("log.txt");
        Process p = MpiRun.start(MpiRun.command(2, DataParallelProbe.class, dir.toString(), "forever"), log);
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
            assertTrue(out.contains("rank 0 of 2: stopped"), "rank 0 must say it stopped:\n" + out);
            assertTrue(out.contains("rank 1") && out.contains("signal 9"), "the launcher names the dead rank:\n" + out);
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }
}
