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
 * gradients are averaged over the ranks. With a bucket size (the default, {@value #DEFAULT_BUCKET_MB} MB as in DDP)
 * the all-reduce runs in buckets that start while backward is still running ({@link GradientBuckets}); with 0, one
 * fused all-reduce runs after backward. Either way the chain then sees the same gradients on every rank, so the
 * global norm, the clip coefficient, adaptive statistics and the non-finite flag agree everywhere and the replicas
 * stay identical. The flag needs no collective of its own: the sum of a gradient that is infinite or NaN on any rank
 * is non-finite on all of them (IEEE addition propagates both), so one rank's overflow skips the step on every rank.
 * A parameter shared between modules is reduced once.
 */
public final class DataParallel implements AutoCloseable {
    /** PyTorch DDP's default {@code bucket_cap_mb}. */
    public static final double DEFAULT_BUCKET_MB = 25;

    private final Communicator comm;
    private final List<Tensor> params;
    private final GradientBuckets buckets; // null: one all-reduce after backward
    private long gradientSyncs, gradientSyncNanos;

    /** {@code params}: the trained parameters (duplicates, e.g. tied weights, are taken once); buckets of 25 MB. */
    public DataParallel(Communicator comm, List<Tensor> params) { this(comm, params, DEFAULT_BUCKET_MB); }

    /**
     * {@code bucketMb}: the size of the gradient buckets all-reduced while backward runs, in MB (10^6 bytes, as DDP's
     * {@code bucket_cap_mb}); 0 reduces all gradients in one all-reduce after backward.
     */
    public DataParallel(Communicator comm, List<Tensor> params, double bucketMb) {
        this.comm = Objects.requireNonNull(comm, "communicator");
        if (!(bucketMb >= 0) || !Double.isFinite(bucketMb))
            throw new IllegalArgumentException("data parallel: the bucket size must be a finite number of MB >= 0 (0 = one all-reduce "
                    + "after backward), got " + bucketMb);
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> unique = new ArrayList<>();
        for (Tensor p : params) if (seen.add(p)) unique.add(p);
        this.params = List.copyOf(unique);
        this.buckets = bucketMb > 0 && comm.size() > 1 ? new GradientBuckets(comm, this.params, Math.max(1, Math.round(bucketMb * 1e6))) : null;
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

    /** Call right before backward: with buckets, their all-reduces start from backward's gradient hooks. */
    public void beforeBackward() {
        if (buckets != null) buckets.arm();
    }

    /**
     * Call right after backward: replaces each gradient by its mean over the ranks. With buckets it starts those
     * backward left and waits for all; without, it runs one fused all-reduce. A parameter without a gradient on this
     * rank gets a zero gradient first, so every rank reduces the same list.
     */
    public void averageGradients() {
        if (comm.size() == 1) return;
        long t0 = System.nanoTime();
        if (buckets != null) {
            buckets.finish();
        } else {
            List<Tensor> grads = new ArrayList<>(params.size());
            try (GradMode.Guard ng = GradMode.noGrad()) {
                for (Tensor p : params) grads.add(contiguousGrad(p));
                comm.allReduce(grads, Communicator.Op.SUM);
                double inv = 1.0 / comm.size();
                for (Tensor g : grads) g.mulInPlace(inv);
            }
        }
        gradientSyncNanos += System.nanoTime() - t0;
        gradientSyncs++;
    }

    /** {@code p}'s gradient, made contiguous (collectives write in place), or zeros where backward gave it none. */
    static Tensor contiguousGrad(Tensor p) {
        Tensor g = p.grad();
        if (g == null || !g.isContiguous()) {
            Tensor fresh = g == null ? Tensor.zeros(p.device(), p.dtype(), p.shape()) : g.contiguous();
            p.setGrad(fresh);
            g = fresh;
        }
        return g;
    }

    /** The number of gradient buckets (0 without bucketing). */
    public int bucketCount() { return buckets == null ? 0 : buckets.buckets().size(); }

    /**
     * How the gradient all-reduces overlapped backward, over all steps so far: per step, how many buckets started
     * from backward's hooks, how many were running (not only queued) and how many had finished when backward returned.
     */
    public record Overlap(long steps, long buckets, long startedInBackward, long runningAtBackwardEnd, long doneAtBackwardEnd) {
        public static final Overlap NONE = new Overlap(0, 0, 0, 0, 0);
    }

    /** The overlap so far ({@link Overlap#NONE} without bucketing). */
    public Overlap overlap() { return buckets == null ? Overlap.NONE : buckets.overlap(); }

    /**
     * Mean wall time the step waited for the gradient average after backward, in milliseconds (the all-reduce, or the
     * buckets' part that backward did not hide, including the wait for the slowest rank); 0 before the first.
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

    /** Removes the gradient hooks from the parameters (the communicator stays open: its owner closes it). */
    @Override public void close() {
        if (buckets != null) buckets.close();
    }
}
