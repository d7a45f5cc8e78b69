package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@code ballast train --nproc N}: the global batch must split over N, and a 2-rank run through mpirun trains and reports its ranks. */
class TrainNprocTest {
    private static final String[] TINY = {"--task", "spirals", "--steps", "20", "--depth", "2", "--width", "16",
            "--train-size", "256", "--test-size", "64", "--log-every", "5", "--eval-every", "10", "--device", "cpu"};

    @Test void aBatchThatDoesNotSplitOverTheRanksIsAConfigErrorBeforeAnythingStarts() {
        Run r = Run.of(concat(new String[]{"train", "--nproc", "3", "--batch", "32"}, TINY));
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("batch: 32 does not split over 3 data-parallel ranks; use a multiple of 3 (--batch)"), r.err());
    }

    @Test void withoutArgumentsTheNprocOptionIsDropped() {
        assertEquals(List.of("train", "--steps", "5", "--seed", "1"),
                MpiLaunch.withoutNproc(List.of("train", "--nproc", "2", "--steps", "5", "--nproc=4", "--seed", "1")));
    }

    @Test void twoRanksThroughMpirunTrainAndOnlyRankZeroPrints() throws Exception {
        Assumptions.assumeTrue(MpiLaunch.findMpirun() != null,
                "Open MPI's mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev): 2-rank CLI run skipped");
        Path mpirun = MpiLaunch.findMpirun();
        List<String> cmd = MpiLaunch.command(mpirun, 2, List.of(concat(new String[]{"train", "--batch", "32"}, TINY)));
        File out = File.createTempFile("nproc", ".out"), err = File.createTempFile("nproc", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out).redirectError(err).start();
            if (!p.waitFor(240, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String o = Files.readString(out.toPath()), e = Files.readString(err.toPath());
            assertEquals(0, p.exitValue(), o + e);
            assertTrue(o.contains("ranks: 2 data-parallel ranks over mpi (Open MPI"), o);
            assertTrue(o.contains("gradient all-reduce: "), o);
            assertEquals(1, o.split("final train loss", -1).length - 1, "one summary (rank 0 only):\n" + o);
            assertTrue(o.contains("steps: 20"), o);
        } finally {
            Files.deleteIfExists(out.toPath());
            Files.deleteIfExists(err.toPath());
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
