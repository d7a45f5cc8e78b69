package dev.ballast.train;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.dist.Communicator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gradient all-reduce in buckets that overlaps backward, as PyTorch DDP's reducer does: the parameters are cut, in
 * reverse order (roughly the order backward finishes their gradients), into buckets of about {@code capBytes}; a
 * post-accumulate-grad hook on every parameter counts the gradients a bucket still waits for, and when the last one
 * is final the bucket's all-reduce is started ({@link Communicator#allReduceAsync}) while backward goes on. Buckets
 * are started strictly in bucket order, so every rank issues the same collectives in the same order even where its
 * gradients become ready in another. {@link #finish} starts the buckets backward left (parameters without a gradient
 * this step get zeros, as DDP's {@code find_unused_parameters} does), waits for all of them and averages.
 */
final class GradientBuckets implements AutoCloseable {
    /** One bucket: parameters in the order their gradients are packed. */
    record Bucket(List<Tensor> params, long bytes) {}

    private final Communicator comm;
    private final List<Bucket> buckets;
    private final Map<Tensor, Integer> bucketOf = new IdentityHashMap<>();
    private final List<Tensor.HookHandle> hooks = new ArrayList<>();
    private final int[] waitingFor;
    private final Communicator.Pending[] inFlight;
    private final java.util.Set<Tensor> readyThisStep = Collections.newSetFromMap(new IdentityHashMap<>());
    private int nextToStart;
    private boolean armed;
    private final OverlapCounter overlap = new OverlapCounter();

    /** {@code params}: distinct parameters in model order; buckets are filled from the last. */
    GradientBuckets(Communicator comm, List<Tensor> params, long capBytes) {
        if (capBytes <= 0) throw new IllegalArgumentException("bucket capacity must be > 0 bytes, got " + capBytes);
        this.comm = comm;
        List<Bucket> bs = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long bytes = 0;
        for (int i = params.size() - 1; i >= 0; i--) {
            Tensor p = params.get(i);
            current.add(p);
            bytes += p.numel() * p.dtype().byteSize();
            if (bytes >= capBytes) {
                bs.add(new Bucket(List.copyOf(current), bytes));
                current.clear();
                bytes = 0;
            }
        }
        if (!current.isEmpty()) bs.add(new Bucket(List.copyOf(current), bytes));
        this.buckets = List.copyOf(bs);
        for (int b = 0; b < buckets.size(); b++)
            for (Tensor p : buckets.get(b).params()) {
                bucketOf.put(p, b);
                hooks.add(p.registerPostAccumulateGradHook(this::ready));
            }
        this.waitingFor = new int[buckets.size()];
        this.inFlight = new Communicator.Pending[buckets.size()];
    }

    List<Bucket> buckets() { return buckets; }

    /** Before backward: every bucket waits for all its gradients again. */
    void arm() {
        if (armed) throw new IllegalStateException("data parallel: a step's backward started before the last one was finished");
        for (int b = 0; b < buckets.size(); b++) waitingFor[b] = buckets.get(b).params().size();
        java.util.Arrays.fill(inFlight, null);
        readyThisStep.clear();
        nextToStart = 0;
        armed = true;
    }

    /** The hook: {@code p}'s gradient for this backward is final. */
    private void ready(Tensor p) {
        if (!armed) return; // a backward outside a training step (a probe, an input gradient): nothing to reduce
        if (!readyThisStep.add(p))
            throw new IllegalStateException("data parallel: a parameter of shape " + java.util.Arrays.toString(p.shape())
                    + " got a second gradient after its bucket's all-reduce started (two backward passes in one step); "
                    + "accumulate over one backward, or use --bucket-mb 0 (one all-reduce after backward)");
        waitingFor[bucketOf.get(p)]--;
        while (nextToStart < buckets.size() && waitingFor[nextToStart] == 0) start(nextToStart++, true);
    }

    private void start(int b, boolean inBackward) {
        List<Tensor> grads = new ArrayList<>();
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (Tensor p : buckets.get(b).params()) grads.add(DataParallel.contiguousGrad(p));
        }
        inFlight[b] = comm.allReduceAsync(grads, Communicator.Op.SUM);
        if (inBackward) overlap.startedInBackward++;
    }

    /**
     * After backward (with or without {@link #arm()} before it): notes how far the buckets got while it ran, starts the rest in order, waits for all and
     * replaces each gradient by its mean over the ranks.
     */
    void finish() {
        if (!armed) arm(); // backward ran without arm(): its gradients are all there, every bucket starts now
        armed = false;
        overlap.steps++;
        overlap.buckets += buckets.size();
        for (int b = 0; b < nextToStart; b++) {
            if (inFlight[b].started()) overlap.runningAtBackwardEnd++;
            if (inFlight[b].done()) overlap.doneAtBackwardEnd++;
        }
        while (nextToStart < buckets.size()) start(nextToStart++, false);
        double inv = 1.0 / comm.size();
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (int b = 0; b < buckets.size(); b++) {
                inFlight[b].join();
                inFlight[b] = null;
                for (Tensor p : buckets.get(b).params()) p.grad().mulInPlace(inv);
            }
        }
    }

    /** How much of the gradient communication overlapped backward, over all steps so far. */
    DataParallel.Overlap overlap() {
        return new DataParallel.Overlap(overlap.steps, overlap.buckets, overlap.startedInBackward, overlap.runningAtBackwardEnd,
                overlap.doneAtBackwardEnd);
    }

    private static final class OverlapCounter {
        long steps, buckets, startedInBackward, runningAtBackwardEnd, doneAtBackwardEnd;
    }

    /** Removes the hooks. */
    @Override public void close() {
        hooks.forEach(Tensor.HookHandle::close);
        hooks.clear();
    }
}
