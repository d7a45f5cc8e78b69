package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cuda.CudaBackendProvider;
import dev.ballast.dist.nccl.Nccl;
import dev.ballast.dist.nccl.NcclCommunicator;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.BackendProvider;
import dev.ballast.engine.dist.Communicator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NCCL's place: only for CUDA tensors of a multi-rank job; with one GPU it runs with one rank (on a real GPU with
 * NCCL, and on the emulated device with tools/fakecuda's NCCL stand-in). Two ranks: {@link NcclTwoRanksTest}.
 */
class NcclTest {
    @Test
    void cpuTensorsAndSingleProcessesKeepTheirCommunicator() {
        Communicator single = Communicator.single();
        assertSame(single, Communicators.forDevice(single, Device.cpu(), note -> { throw new AssertionError(note); }));
        var e = assertThrows(IllegalArgumentException.class, () -> NcclCommunicator.create(single, Device.cpu()));
        assertTrue(e.getMessage().contains("NCCL communicates CUDA tensors; device is cpu"), e.getMessage());
    }

    @Test
    @Tag("gpu")
    void oneRankOnOneGpuAllReducesAndBroadcastsInPlace() {
        BackendProvider.Probe probe = new CudaBackendProvider().open();
        if (probe instanceof BackendProvider.Probe.Unavailable u) Assumptions.abort("no CUDA backend: " + u.reason());
        Assumptions.assumeTrue(Nccl.load().isPresent(), "libnccl.so.2 not found (set BALLAST_NCCL_LIBRARY or pip install nvidia-nccl-cu12)");
        Device cuda = new Device(((BackendProvider.Probe.Available) probe).backend());
        long seed = System.nanoTime();
        System.out.println("NcclTest seed " + seed);
        Generator gen = new Generator(seed);
        try (NcclCommunicator nccl = NcclCommunicator.create(Communicator.single(), cuda)) {
            List<Tensor> ts = new ArrayList<>(List.of(Tensor.randn(gen, cuda, 3, 5), Tensor.randn(gen, cuda, 7),
                    Tensor.randn(gen, cuda, 4).to(DType.BF16), Tensor.randn(gen, cuda, 2).to(DType.F64)));
            List<double[]> before = ts.stream().map(Tensor::toDoubleArray).toList();
            nccl.allReduce(ts, Communicator.Op.SUM);
            nccl.allReduceAsync(ts.subList(0, 2), Communicator.Op.SUM).join();
            Communicator.Pending rest = nccl.allReduceAsync(ts.subList(2, 4), Communicator.Op.SUM);
            rest.join();
            rest.join(); // a second join returns at once
            nccl.allReduce(ts, Communicator.Op.MAX);
            nccl.broadcast(ts, 0);
            nccl.barrier();
            for (int i = 0; i < ts.size(); i++) assertArrayEquals(before.get(i), ts.get(i).toDoubleArray(), "tensor " + i);
            assertTrue(nccl.name().startsWith("nccl 2."), nccl.name());
            ts.forEach(Tensor::close);
        }
    }
}
