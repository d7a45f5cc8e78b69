package dev.ballast.train;

import dev.ballast.engine.DType;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.dist.Communicator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Data-parallel training over a {@link Communicator}, the way PyTorch DDP does it: every rank holds the same
 * parameters, computes the loss on its own shard of each global batch, and before the gradient chain runs the
 * gradients are averaged over the ranks with one fused all-reduce. The chain then sees the same gradients on every
 * rank, so the global norm, the clip coefficient, adaptive statistics and the non-finite flag agree everywhere and
 * the replicas stay identical. The flag needs no collective of its own: the sum of a gradient that is infinite or
 * NaN on any rank is non-finite on all of them (IEEE addition propagates both), so one rank's overflow skips the
 * step on every rank. A parameter shared between modules is reduced once.
 */
public final class DataParallel {
    private final Communicator comm;
    private final List<Tensor> params;
    private long gradientSyncs, gradientSyncNanos;

    /** {@code params}: the trained parameters (duplicates, e.g. tied weights, are taken once). */
    public DataParallel(Communicator comm, List<Tensor> params) {
        this.comm = Objects.requireNonNull(comm, "communicator");
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> unique = new ArrayList<>();
        for (Tensor p : params) if (seen.add(p)) unique.add(p);
        this.params = List.copyOf(unique);
    }

    public Communicator communicator() { return comm; }

    public int rank() { return comm.rank(); }

    public int size() { return comm.size(); }

    /** True on rank 0, which prints progress and writes metrics and checkpoints. */
    public boolean isRoot() { return comm.isRoot(); }

    /** Throws when {@code globalBatch} does not split evenly over the ranks (shards must be equal for the average to be exact). */
    public void checkBatch(long globalBatch) {
        if (globalBatch % comm.size() != 0)
            throw new IllegalArgumentException("data parallel: the global batch " + globalBatch + " does not split over "
                    + comm.size() + " ranks; use a batch that is a multiple of " + comm.size());
    }

    /** This rank's contiguous share of a global batch: rows {@code [rank * b/n, (rank + 1) * b/n)}. */
    public Batch shard(Batch global) {
        if (comm.size() == 1) return global;
        checkBatch(global.size());
        long per = global.size() / comm.size(), start = per * comm.rank();
        return new Batch(global.inputs().narrow(0, start, per), global.targets().narrow(0, start, per),
                global.epoch(), global.index());
    }

    /** Makes every rank's copy of {@code state} (parameters and buffers) equal to rank 0's. */
    public void broadcastFromRoot(List<Tensor> state) {
        if (comm.size() > 1) comm.broadcast(state, 0);
    }

    /**
     * Replaces each gradient by its mean over the ranks (one fused all-reduce). A parameter without a gradient on this
     * rank gets a zero gradient first, so every rank reduces the same list.
     */
    public void averageGradients() {
        if (comm.size() == 1) return;
        List<Tensor> grads = new ArrayList<>(params.size());
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null || !g.isContiguous()) {
                    Tensor fresh = g == null ? Tensor.zeros(p.device(), p.dtype(), p.shape()) : g.contiguous();
                    p.setGrad(fresh);
                    g = fresh;
                }
                grads.add(g);
            }
            long t0 = System.nanoTime();
            comm.allReduce(grads, Communicator.Op.SUM);
            double inv = 1.0 / comm.size();
            for (Tensor g : grads) g.mulInPlace(inv);
            gradientSyncNanos += System.nanoTime() - t0;
            gradientSyncs++;
        }
    }

    /**
     * Mean wall time of {@link #averageGradients()} in milliseconds (the all-reduce, including the wait for the slowest
     * rank); 0 before the first.
     */
    public double gradientSyncMillis() { return gradientSyncs == 0 ? 0 : gradientSyncNanos / 1e6 / gradientSyncs; }

    /** The mean over the ranks of a one-element value (e.g. the loss), read on the host; a collective every rank must call. */
    public double mean(Tensor value) {
        if (comm.size() == 1) return value.item();
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor v = value.detach().to(DType.F64).reshape(1).copy(); // a copy: the collective writes in place
            comm.allReduce(List.of(v), Communicator.Op.SUM);
            return v.item() / comm.size();
        }
    }

    /**
     * The mean over the ranks of a one-element value, as a 0-d F32 tensor on the device, without a host read of the
     * value (the collective itself is the one synchronization); a collective every rank must call.
     */
    public Tensor meanOnDevice(Tensor value) {
        Tensor v = value.detach().to(DType.F32).reshape(1).copy(); // a copy: the collective writes in place
        if (comm.size() == 1) return v.reshape();
        comm.allReduce(List.of(v), Communicator.Op.SUM);
        return v.mul(1.0 / comm.size()).reshape();
    }

    /** Waits for every rank (e.g. before rank 0 writes a checkpoint of the state they all hold). */
    public void barrier() {
        if (comm.size() > 1) comm.barrier();
    }
}
