package dev.ballast.dist;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.dist.Communicator;
import java.util.Arrays;
import java.util.List;

/**
 * The collectives of a communicator on rank-dependent inputs, printed one {@code name=values} line each, for the
 * test to compare with what it computes for N ranks: all-reduce SUM and MAX over a mixed list (F32, F64, I64, F16,
 * a tensor larger than a page), broadcast from the last rank, barrier.
 */
final class CollectivesProbe {
    private CollectivesProbe() {}

    static String run(Communicator comm) {
        Device cpu = Device.cpu();
        int r = comm.rank();
        StringBuilder out = new StringBuilder();
        try (Tensor f32 = Tensor.fromArray(cpu, new float[]{r + 1, -2f * r, 0.5f}, 3);
             Tensor f64 = Tensor.fromArray(cpu, DType.F64, new double[]{r * 1e-9, 1}, 2);
             Tensor i64 = Tensor.fromArray(cpu, new long[]{1L << 40, r}, 2);
             Tensor f16 = Tensor.fromArray(cpu, DType.F16, new double[]{r + 0.5, 3}, 2);
             Tensor big = Tensor.full(cpu, DType.F32, r + 1, 5000)) {
            comm.allReduce(List.of(f32, f64, i64, f16, big), Communicator.Op.SUM);
            out.append("sum.f32=").append(Arrays.toString(f32.toDoubleArray())).append('\n');
            out.append("sum.f64=").append(Arrays.toString(f64.toDoubleArray())).append('\n');
            out.append("sum.i64=").append(Arrays.toString(i64.toLongArray())).append('\n');
            out.append("sum.f16=").append(Arrays.toString(f16.toDoubleArray())).append('\n');
            out.append("sum.big=").append(big.sum().item()).append('\n');
        }
        try (Tensor m = Tensor.fromArray(cpu, new float[]{r, -r, r == 0 ? Float.POSITIVE_INFINITY : 0}, 3)) {
            comm.allReduce(List.of(m), Communicator.Op.MAX);
            out.append("max=").append(Arrays.toString(m.toDoubleArray())).append('\n');
        }
        try (Tensor b = Tensor.fromArray(cpu, new float[]{r, r * 10}, 2); Tensor c = Tensor.fromArray(cpu, new long[]{r}, 1)) {
            comm.broadcast(List.of(b, c), comm.size() - 1);
            out.append("bcast=").append(Arrays.toString(b.toDoubleArray())).append(Arrays.toString(c.toLongArray())).append('\n');
        }
        comm.barrier();
        out.append("rank=").append(r).append(" size=").append(comm.size()).append('\n');
        return out.toString();
    }
}
