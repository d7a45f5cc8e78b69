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
    static class PeerOfConstants implements Communicator {
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
            var dp = new DataParallel(peer, List.of(w, b, w), 0); // w tied: listed twice, reduced once; b has no gradient
            dp.averageGradients();
            assertEquals(List.of(2), peer.calls, "one fused all-reduce over the unique parameters");
            assertArrayEquals(new float[]{2, 0, 3}, w.grad().toFloatArray());
            assertNotNull(b.grad(), "a parameter without a gradient takes part with zeros");
            assertArrayEquals(new float[]{0.5f, 0.5f}, b.grad().toFloatArray());
        }
    }

    /**
     * Rank 1 of 2 whose peer holds {@code peerValue}, with a real asynchronous all-reduce: it records when each is
     * started (and over which tensors) and applies the peer's values only when joined.
     */
    static final class RecordingPeer extends PeerOfConstants {
        final List<String> events;
        final List<List<Tensor>> started = new ArrayList<>();

        RecordingPeer(double peerValue, List<String> events) {
            super(peerValue);
            this.events = events;
        }

        @Override public Pending allReduceAsync(List<Tensor> tensors, Op op) {
            Communicator.checkTensors("allReduce", tensors);
            int index = started.size();
            started.add(List.copyOf(tensors));
            events.add("start " + index);
            boolean[] joined = {false};
            return new Pending() {
                @Override public void join() {
                    if (joined[0]) return;
                    joined[0] = true;
                    events.add("join " + index);
                    allReduce(tensors, op);
                }

                @Override public boolean started() { return true; }

                @Override public boolean done() { return joined[0]; }
            };
        }
    }

    /** Three linear layers (2 -> 4 -> 4 -> 1) and a batch, with fixed values. */
    record Net(Tensor w1, Tensor b1, Tensor w2, Tensor b2, Tensor w3, Tensor b3, Tensor x, Tensor y) implements AutoCloseable {
        static Net create(long seed) {
            var g = new dev.ballast.engine.Generator(seed);
            return new Net(Tensor.randn(g, CPU, 2, 4).requiresGrad(true), Tensor.randn(g, CPU, 4).requiresGrad(true),
                    Tensor.randn(g, CPU, 4, 4).requiresGrad(true), Tensor.randn(g, CPU, 4).requiresGrad(true),
                    Tensor.randn(g, CPU, 4, 1).requiresGrad(true), Tensor.randn(g, CPU, 1).requiresGrad(true),
                    Tensor.randn(g, CPU, 8, 2), Tensor.randn(g, CPU, 8, 1));
        }

        List<Tensor> params() { return List.of(w1, b1, w2, b2, w3, b3); }

        Tensor loss() {
            Tensor h = x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).tanh();
            return dev.ballast.engine.nn.Losses.mse(h.matmul(w3).add(b3), y);
        }

        @Override public void close() {
            for (Tensor t : List.of(w1, b1, w2, b2, w3, b3, x, y)) t.close();
        }
    }

    /**
     * Buckets of 20 bytes over 2 -> 4 -> 4 -> 1: from the last parameter, {b3, w3 (4 floats)} = 20 bytes, {b2, w2},
     * {b1, w1}. Each bucket's all-reduce starts from backward's hooks as soon as its gradients are final: the last
     * layer's before backward has even reached the first layer's weight, all of them before backward returns, and the
     * averaged gradients equal those of one all-reduce after backward.
     */
    @Test void bucketsStartDuringBackwardInReverseParameterOrderAndAverageLikeOneAllReduce() {
        long seed = System.nanoTime();
        System.out.println("DataParallelTest seed " + seed);
        List<String> events = new ArrayList<>();
        var peer = new RecordingPeer(0.25, events);
        try (Net net = Net.create(seed); DataParallel dp = new DataParallel(peer, net.params(), 20e-6)) {
            assertEquals(3, dp.bucketCount());
            net.w1().registerHook(g -> { events.add("first layer's weight gradient"); return g; });
            dp.beforeBackward();
            net.loss().backward();
            events.add("backward returned");
            dp.averageGradients();
            assertEquals(List.of("start 0", "start 1", "first layer's weight gradient", "start 2", "backward returned",
                    "join 0", "join 1", "join 2"), events);
            assertEquals(List.of(net.b3().grad(), net.w3().grad()), peer.started.get(0), "last layer first");
            assertEquals(List.of(net.b2().grad(), net.w2().grad()), peer.started.get(1));
            assertEquals(List.of(net.b1().grad(), net.w1().grad()), peer.started.get(2));
            assertEquals(new DataParallel.Overlap(1, 3, 3, 3, 0), dp.overlap());
            List<float[]> bucketed = net.params().stream().map(p -> p.grad().toFloatArray()).toList();

            for (Tensor p : net.params()) p.zeroGrad();
            net.loss().backward();
            var once = new PeerOfConstants(0.25);
            new DataParallel(once, net.params(), 0).averageGradients();
            assertEquals(List.of(6), once.calls);
            for (int i = 0; i < bucketed.size(); i++)
                assertArrayEquals(net.params().get(i).grad().toFloatArray(), bucketed.get(i), "parameter " + i);
        }
    }

    @Test void aParameterBackwardDidNotReachIsReducedAfterBackwardWithZerosAndTiedOnesOnce() {
        List<String> events = new ArrayList<>();
        var peer = new RecordingPeer(1.0, events);
        try (Net net = Net.create(5); Tensor unused = Tensor.zeros(CPU, dev.ballast.engine.DType.F32, 3).requiresGrad(true);
             DataParallel dp = new DataParallel(peer, List.of(unused, net.w1(), net.b1(), net.w2(), net.b2(), net.w3(), net.b3(), net.w3()), 20e-6)) {
            dp.beforeBackward();
            net.loss().backward();
            events.add("backward returned");
            dp.averageGradients();
            assertEquals(List.of("start 0", "start 1", "start 2", "backward returned", "start 3", "join 0", "join 1", "join 2", "join 3"),
                    events, "the bucket of the unused parameter waits for the end of backward");
            assertEquals(2, peer.started.getFirst().size(), "w3 listed twice, reduced once");
            assertArrayEquals(new float[]{0.5f, 0.5f, 0.5f}, unused.grad().toFloatArray(), "zeros on this rank, 1 on the peer");
            assertEquals(new DataParallel.Overlap(1, 4, 3, 3, 0), dp.overlap());
        }
    }

    @Test void aSecondBackwardInOneStepIsAnErrorAndABackwardOutsideAStepReducesNothing() {
        var peer = new RecordingPeer(0, new ArrayList<>());
        try (Net net = Net.create(9); DataParallel dp = new DataParallel(peer, net.params(), 20e-6)) {
            net.loss().backward(); // not armed (an input-gradient probe, say): no collective
            assertTrue(peer.started.isEmpty());
            for (Tensor p : net.params()) p.zeroGrad();
            dp.beforeBackward();
            net.loss().backward();
            var e = assertThrows(IllegalStateException.class, () -> net.loss().backward());
            assertTrue(e.getMessage().contains("second gradient after its bucket's all-reduce started") && e.getMessage().contains("--bucket-mb 0"),
                    e.getMessage());
        }
        var bad = assertThrows(IllegalArgumentException.class, () -> new DataParallel(peer, List.of(), -1));
        assertTrue(bad.getMessage().contains("bucket size must be a finite number of MB >= 0"), bad.getMessage());
    }

    @Test void theLossIsTheMeanOverRanks() {
        var dp = new DataParallel(new PeerOfConstants(3.0), List.of());
        try (Tensor loss = Tensor.scalar(CPU, dev.ballast.engine.DType.F32, 1.0)) {
            assertEquals(2.0, dp.mean(loss), 1e-12);
            assertEquals(1.0, loss.item(), "the loss itself is left alone");
        }
    }
}
