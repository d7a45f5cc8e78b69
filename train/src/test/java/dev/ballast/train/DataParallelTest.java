package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.dist.Communicator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * DataParallel's own arithmetic, with a stand-in for "rank 1 of 2" whose peer holds fixed values: shards, the
 * gradient mean, the loss mean, shared parameters reduced once. (The real 2-process runs are in the distributed
 * module's DataParallelMpiTest.)
 */
class DataParallelTest {
    static final Device CPU = Device.cpu();

    /** Rank 1 of 2 whose peer's tensors hold {@code peerValue} everywhere; records each all-reduce's tensor count. */
    static final class PeerOfConstants implements Communicator {
        final double peerValue;
        final List<Integer> calls = new ArrayList<>();

        PeerOfConstants(double peerValue) { this.peerValue = peerValue; }

        @Override public int rank() { return 1; }
        @Override public int size() { return 2; }
        @Override public String name() { return "test peer"; }
        @Override public void allReduce(List<Tensor> tensors, Op op) {
            Communicator.checkTensors("allReduce", tensors);
            calls.add(tensors.size());
            for (Tensor t : tensors) t.copyFrom(op == Op.SUM ? t.add(peerValue) : t.maximum(peerValue));
        }
        @Override public void broadcast(List<Tensor> tensors, int root) { for (Tensor t : tensors) t.fill(peerValue); }
        @Override public void barrier() {}
        @Override public void close() {}
    }

    @Test void shardsAreEqualContiguousSlicesByRank() {
        var dp = new DataParallel(new PeerOfConstants(0), List.of());
        try (Tensor x = Tensor.arange(CPU, 8).reshape(8, 1); Tensor y = Tensor.arange(CPU, 8)) {
            Batch s = dp.shard(new Batch(x, y, 3, 4));
            assertArrayEquals(new long[]{4, 5, 6, 7}, s.targets().toLongArray());
            assertEquals(3, s.epoch());
            assertEquals(4, s.index());
            var e = assertThrows(IllegalArgumentException.class, () -> dp.shard(new Batch(x.narrow(0, 0, 7), y.narrow(0, 0, 7), 0, 0)));
            assertTrue(e.getMessage().contains("global batch 7 does not split over 2 ranks"), e.getMessage());
        }
    }

    @Test void gradientsBecomeTheMeanOverRanksInOneCallAndSharedParametersCountOnce() {
        var peer = new PeerOfConstants(1.0);
        try (Tensor w = Tensor.zeros(CPU, dev.ballast.engine.DType.F32, 3).requiresGrad(true);
             Tensor b = Tensor.zeros(CPU, dev.ballast.engine.DType.F32, 2).requiresGrad(true)) {
            w.setGrad(Tensor.fromArray(CPU, new float[]{3, -1, 5}, 3));
            var dp = new DataParallel(peer, List.of(w, b, w)); // w tied: listed twice, reduced once; b has no gradient
            dp.averageGradients();
            assertEquals(List.of(2), peer.calls, "one fused all-reduce over the unique parameters");
            assertArrayEquals(new float[]{2, 0, 3}, w.grad().toFloatArray());
            assertNotNull(b.grad(), "a parameter without a gradient takes part with zeros");
            assertArrayEquals(new float[]{0.5f, 0.5f}, b.grad().toFloatArray());
        }
    }

    @Test void theLossIsTheMeanOverRanks() {
        var dp = new DataParallel(new PeerOfConstants(3.0), List.of());
        try (Tensor loss = Tensor.scalar(CPU, dev.ballast.engine.DType.F32, 1.0)) {
            assertEquals(2.0, dp.mean(loss), 1e-12);
            assertEquals(1.0, loss.item(), "the loss itself is left alone");
        }
    }
}
