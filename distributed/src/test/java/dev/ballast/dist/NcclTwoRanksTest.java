package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cuda.CudaBackendProvider;
import dev.ballast.dist.nccl.Nccl;
import dev.ballast.engine.backend.BackendProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NCCL across two processes under mpirun, bootstrapped over MPI, on the emulated CUDA device (tools/fakecuda and its
 * NCCL stand-in, where each process has a device of its own). Tagged {@code emulated-gpu}: a machine with one real GPU
 * cannot give two ranks a device each (NCCL refuses two ranks on one GPU), so the GPU check leaves it out; the
 * emulated CI stage runs it.
 */
class NcclTwoRanksTest {
    @Test
    @Tag("emulated-gpu")
    void twoRanksAllReduceAndBroadcastDeviceTensorsLikeTheCpu(@TempDir Path dir) throws Exception {
        BackendProvider.Probe probe = new CudaBackendProvider().open();
        if (probe instanceof BackendProvider.Probe.Unavailable u) Assumptions.abort("no CUDA backend: " + u.reason());
        Assumptions.assumeTrue(Nccl.load().isPresent(), "libnccl.so.2 not found (the emulated stack builds a stand-in)");
        String mpirun = MpiRun.mpirun();
        Assumptions.assumeTrue(mpirun != null);
        long seed = System.nanoTime();
        System.out.println("NcclTwoRanksTest seed " + seed);
        var run = MpiRun.run(MpiRun.command(2, NcclProbe.class, dir.toString(), Long.toString(seed)), dir.resolve("log.txt"), 300);
        assertEquals(0, run.exitCode(), run.output());
        System.out.printf("2-rank NCCL launch: %.1f s%n", run.seconds());
        for (int r = 0; r < 2; r++) {
            String report = Files.readString(dir.resolve("rank" + r + ".txt"));
            System.out.print(report);
            assertEquals(15, report.lines().filter(l -> l.startsWith("ok ")).count(), report);
            assertTrue(!report.contains("MISMATCH"), report);
            assertTrue(report.contains("rank=" + r + " size=2 comm=nccl 2."), report);
        }
    }
}
