package dev.ballast.dist;

import dev.ballast.cuda.CudaBackendProvider;
import dev.ballast.dist.nccl.NcclCommunicator;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.BackendProvider;
import dev.ballast.engine.dist.Communicator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One rank of the NCCL test under mpirun on the emulated CUDA device: NCCL bootstrapped over MPI, collectives on
 * device tensors of five dtypes drawn from {@code seed + rank}, each result checked against the same operation on
 * the CPU over every rank's inputs (each rank draws all of them). Writes {@code rank<r>.txt}: one line per check,
 * "ok ..." or what differed.
 */
public final class NcclProbe {
    private NcclProbe() {}

    /** Rank {@code r}'s inputs on the CPU: F32 [3, 5] and [3000], F64 [2], BF16 [4], F16 [6]. */
    static List<Tensor> inputs(long seed, int r) {
        Generator g = new Generator(seed + r);
        Device cpu = Device.cpu();
        return List.of(Tensor.randn(g, cpu, 3, 5), Tensor.randn(g, cpu, 3000), Tensor.randn(g, cpu, 2).to(DType.F64),
                Tensor.randn(g, cpu, 4).to(DType.BF16), Tensor.randn(g, cpu, 6).to(DType.F16));
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        BackendProvider.Probe probe = new CudaBackendProvider().open();
        if (!(probe instanceof BackendProvider.Probe.Available a)) throw new IllegalStateException("no CUDA backend: " + probe);
        Device cuda = new Device(a.backend());
        StringBuilder report = new StringBuilder();
        int myRank;
        try (Communicator mpi = Communicators.fromEnvironment(); NcclCommunicator nccl = NcclCommunicator.create(mpi, cuda)) {
            int rank = nccl.rank(), size = nccl.size();
            myRank = rank;
            List<List<Tensor>> all = new ArrayList<>();
            for (int r = 0; r < size; r++) all.add(inputs(seed, r));
            List<Tensor> mine = all.get(rank);

            List<Tensor> dev = mine.stream().map(t -> t.to(cuda)).toList();
            nccl.allReduce(dev, Communicator.Op.SUM);
            check(report, "sum", dev, expected(all, true));

            List<Tensor> async = mine.stream().map(t -> t.to(cuda)).toList();
            Communicator.Pending first = nccl.allReduceAsync(async.subList(0, 2), Communicator.Op.SUM);
            Communicator.Pending second = nccl.allReduceAsync(async.subList(2, 5), Communicator.Op.MAX);
            first.join();
            second.join();
            List<Tensor> want = new ArrayList<>(expected(all, true).subList(0, 2));
            want.addAll(expected(all, false).subList(2, 5));
            check(report, "async sum + max", async, want);

            List<Tensor> bcast = mine.stream().map(t -> t.to(cuda)).toList();
            nccl.broadcast(bcast, size - 1);
            check(report, "broadcast from rank " + (size - 1), bcast, all.get(size - 1));
            report.append("rank=").append(rank).append(" size=").append(size).append(" comm=").append(nccl.name()).append('\n');
        }
        Files.writeString(out.resolve("rank" + myRank + ".txt"), report);
    }

    /** Every rank's inputs combined on the CPU in each tensor's dtype: sum, or element-wise max. */
    static List<Tensor> expected(List<List<Tensor>> all, boolean sum) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < all.getFirst().size(); i++) {
            Tensor acc = all.getFirst().get(i);
            for (int r = 1; r < all.size(); r++) acc = sum ? acc.add(all.get(r).get(i)) : acc.maximum(all.get(r).get(i));
            out.add(acc);
        }
        return out;
    }

    private static void check(StringBuilder report, String what, List<Tensor> got, List<Tensor> want) {
        for (int i = 0; i < got.size(); i++) {
            double[] g = got.get(i).toDoubleArray(), w = want.get(i).toDoubleArray();
            report.append(Arrays.equals(g, w) ? "ok " + what + " " + got.get(i).dtype() + " " + g.length
                    : "MISMATCH " + what + " tensor " + i + " (" + got.get(i).dtype() + "): got " + Arrays.toString(Arrays.copyOf(g, 4))
                    + ", want " + Arrays.toString(Arrays.copyOf(w, 4))).append('\n');
        }
    }
}
