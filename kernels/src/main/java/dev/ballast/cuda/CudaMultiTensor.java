package dev.ballast.cuda;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link MultiTensorOps} on the CUDA backend ({@code multi_tensor.cu}): each op is one launch over all its
 * tensors (the optimizer updates also round the new weights into the mixed-precision working copies in that
 * launch), driven by a cached device-side {@link ChunkTable}, plus a one-block finish kernel where a result
 * must be combined (norm) or a counter moved (optimizer steps). Nothing is read back to the host and,
 * once a tensor list's table is cached, nothing is allocated or uploaded: a step can be captured in a CUDA
 * graph ({@link CudaGraph}, which keeps the tables it captured alive). At most {@value #PER_LAYOUT} tables are kept per list layout
 * (the same lists with other tensors replace the oldest, reusing its blocks), {@value #CACHED_TABLES} in all.
 */
final class CudaMultiTensor implements MultiTensorOps {
    private static final String FILE = "multi_tensor.cu";
    private static final int CACHED_TABLES = 64;
    private static final int PER_LAYOUT = 4;
    private static final int BLOCK = 256;

    /** A table on the device and its work area: per-tensor F64 scratch, then per-chunk F32 and U32 partials. */
    private record Resident(ChunkTable.Key key, Storage table, Storage work, long chunks, long tensorsPtr, long scratchPtr) {
        long chunksPtr() { return tensorsPtr() + (long) key.entries().size() * ChunkTable.TENSOR_BYTES; }
        long partAccPtr() { return scratchPtr() + 8L * key.entries().size(); }
        long partBadPtr() { return partAccPtr() + 4 * chunks; }
        void release() { table.release(); work.release(); }
    }

    private final KernelHost host;
    private final Map<ChunkTable.Key, Resident> tables = new LinkedHashMap<>(16, 0.75f, true);

    CudaMultiTensor(KernelHost host) { this.host = host; }

    /** The cached table for these lists, built and uploaded on first use. */
    private synchronized Resident table(List<List<Strided>> lists) {
        List<ChunkTable.Entry> entries = new ArrayList<>();
        for (List<Strided> l : lists)
            for (Strided s : l) entries.add(new ChunkTable.Entry(host.pointer(s), s.numel(), s.dtype()));
        ChunkTable.Key key = new ChunkTable.Key(lists.size(), entries);
        Resident r = tables.get(key);
        if (r != null) {
            host.retainForCapture(r.table(), r.work()); // an eviction must not free what a graph replays
            return r;
        }
        host.refuseDuringCapture("upload the chunk table of a list of " + entries.size() + " tensors not used before (or moved since)",
                "run the same step once before capturing, so its tables are on the device");
        // The same lists with other tensors (new gradients each step land wherever the allocator puts them): beyond
        // PER_LAYOUT tables of one layout, drop the least recently used first, so its blocks go back to the allocator
        // and serve this one; a steady training loop then allocates nothing from the driver. A graph that captured
        // the dropped table keeps it alive (it retained it).
        List<Long> layout = layout(key);
        List<ChunkTable.Key> same = new ArrayList<>();
        for (ChunkTable.Key k : tables.keySet()) if (layout(k).equals(layout)) same.add(k); // least recently used first
        for (int i = 0; i <= same.size() - PER_LAYOUT; i++)
            tables.remove(same.get(i)).release(); // stream-ordered: the blocks are reused only by later work
        long chunks = ChunkTable.chunkCount(key);
        Storage table = host.allocate(ChunkTable.byteSize(key));
        Storage work = host.allocate(8L * entries.size() + 8 * chunks);
        try (Arena a = Arena.ofConfined()) {
            host.copyFromHost(ChunkTable.encode(key, a), table, 0, ChunkTable.byteSize(key));
        }
        r = new Resident(key, table, work, chunks, host.storagePtr(table), host.storagePtr(work));
        tables.put(key, r);
        if (tables.size() > CACHED_TABLES) {
            var eldest = tables.entrySet().iterator();
            eldest.next().getValue().release(); // stream-ordered: reused only by later work
            eldest.remove();
        }
        return r;
    }

    /** A table's shape without its addresses: list count, then each tensor's element count and dtype. */
    private static List<Long> layout(ChunkTable.Key key) {
        List<Long> l = new ArrayList<>(1 + 2 * key.entries().size());
        l.add((long) key.lists());
        for (ChunkTable.Entry e : key.entries()) {
            l.add(e.numel());
            l.add((long) e.dtype().ordinal());
        }
        return l;
    }

    private int grid(long chunks) {
        return (int) Math.clamp(chunks, 1, (long) host.multiprocessors() * 16);
    }

    // ------------------------------------------------------------------ norm and coefficient

    @Override
    public void multiTensorNorm(List<Strided> tensors, NormKind kind, double p, Strided perTensor, Strided total) {
        for (Strided t : tensors) {
            if (t.dtype() != DType.F32 && !t.dtype().isHalf())
                throw new IllegalArgumentException("cuda multiTensorNorm: tensors must be f32, f16 or bf16, got " + t.dtype());
            requireContiguous(t, "multiTensorNorm");
        }
        if (kind == NormKind.P && !(p > 0 && p < Double.POSITIVE_INFINITY))
            throw new IllegalArgumentException("cuda multiTensorNorm: p must be > 0, got " + p);
        requireF64(total, 2, "multiTensorNorm total");
        if (perTensor != null) requireF64(perTensor, tensors.size(), "multiTensorNorm perTensor");
        host.bind();
        if (tensors.isEmpty()) {
            host.fill(total, 0);
            return;
        }
        Resident r = table(List.of(tensors));
        if (r.chunks() > 0) {
            LaunchArgs a = LaunchArgs.get().ptr(r.tensorsPtr()).ptr(r.chunksPtr()).i64(r.chunks()).i32(kind.ordinal())
                    .f32((float) p).ptr(r.partAccPtr()).ptr(r.partBadPtr());
            host.launchGrid(FILE, "multi_tensor_norm", grid(r.chunks()), BLOCK, a);
        }
        LaunchArgs a = LaunchArgs.get().ptr(r.tensorsPtr()).i64(tensors.size()).i32(kind.ordinal())
                .ptr(r.partAccPtr()).ptr(r.partBadPtr()).ptr(perTensor == null ? r.scratchPtr() : host.pointer(perTensor))
                .ptr(host.pointer(total));
        host.launchGrid(FILE, "multi_tensor_norm_finish", 1, BLOCK, a);
    }

    /** Bytes of one chunk's partial of the statistics pass (StatPart in multi_tensor.cu). */
    private static final int STAT_PART_BYTES = 32; // two doubles, a float, two unsigned, padded to 8

    @Override
    public void multiTensorStats(List<Strided> grads, List<Strided> weights, Strided stats, Strided histogram) {
        GradStatsLayout.checkArguments(grads, weights, stats, histogram);
        if (grads.isEmpty()) return;
        host.bind();
        host.fill(histogram, 0);
        Resident r = table(weights == null ? List.of(grads) : List.of(grads, weights));
        Storage part = host.allocate(STAT_PART_BYTES * Math.max(1, r.chunks()));
        try {
            long partPtr = host.storagePtr(part);
            if (r.chunks() > 0) {
                LaunchArgs a = LaunchArgs.get().ptr(r.tensorsPtr()).ptr(r.chunksPtr()).i64(r.chunks()).i64(grads.size())
                        .i32(weights == null ? 0 : 1).ptr(partPtr).ptr(host.pointer(histogram));
                host.launchGrid(FILE, "multi_tensor_stats", grid(r.chunks()), BLOCK, a);
            }
            LaunchArgs a = LaunchArgs.get().ptr(r.tensorsPtr()).i64(grads.size()).ptr(partPtr).ptr(host.pointer(stats));
            host.launchGrid(FILE, "multi_tensor_stats_finish", 1, BLOCK, a);
        } finally {
            part.release(); // stream-ordered: reused only by later work
        }
    }

    @Override
    public void clipCoefficient(Strided total, NormKind kind, double p, double maxNorm, Strided out) {
        requireF64(total, 2, "clipCoefficient total");
        if (out.dtype() != DType.F32 || out.numel() != 3 || !out.isContiguous())
            throw new IllegalArgumentException("cuda clipCoefficient: out must be 3 contiguous f32 elements, got " + out);
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(host.pointer(total)).i32(kind.ordinal()).f64(p).f64(maxNorm).ptr(host.pointer(out));
        host.launchGrid(FILE, "clip_coefficient", 1, 32, a);
    }

    @Override
    public void multiTensorScale(List<Strided> tensors, Strided coefficient) {
        checkF32("multiTensorScale", tensors, null);
        requireScalar(coefficient, "multiTensorScale coefficient");
        if (tensors.isEmpty()) return;
        host.bind();
        Resident r = table(List.of(tensors));
        if (r.chunks() == 0) return;
        LaunchArgs a = LaunchArgs.get().ptr(r.tensorsPtr()).ptr(r.chunksPtr()).i64(r.chunks())
                .ptr(host.pointer(coefficient)).i32(coefficient.dtype().ordinal());
        host.launchGrid(FILE, "multi_tensor_scale", grid(r.chunks()), BLOCK, a);
    }

    // ------------------------------------------------------------------ optimizer steps

    /** Writes the working copies inside the update kernel (list 4 of its table): no second pass. */
    @Override
    public boolean fusedAdam(List<Strided> params, List<Strided> grads, List<Strided> expAvg, List<Strided> expAvgSq,
                             AdamParams h, LrSchedule schedule, Strided coefficient, Strided skip, Strided step,
                             Strided lrFactor, List<Strided> lowPrecisionCopies) {
        checkF32("fusedAdam", params, grads);
        checkF32("fusedAdam", params, expAvg);
        checkF32("fusedAdam", params, expAvgSq);
        checkCopies("fusedAdam", params, lowPrecisionCopies);
        checkSteering("fusedAdam", coefficient, skip, step, lrFactor);
        host.bind();
        if (!params.isEmpty()) {
            List<List<Strided>> lists = new ArrayList<>(List.of(params, grads, expAvg, expAvgSq));
            int copyList = withCopies(lists, lowPrecisionCopies);
            Resident r = table(lists);
            if (r.chunks() > 0) {
                LaunchArgs a = steering(r, params.size(), coefficient, skip, lrFactor, step, schedule)
                        .f64(h.beta1()).f64(h.beta2()).f64(h.eps()).f64(h.weightDecay()).i32(h.decoupled() ? 1 : 0)
                        .i32(copyList);
                host.launchGrid(FILE, "fused_adam", grid(r.chunks()), BLOCK, a);
            }
        }
        increment(skip, step);
        return true;
    }

    /** Writes the working copies inside the update kernel (the table's last list): no second pass. */
    @Override
    public boolean fusedSgd(List<Strided> params, List<Strided> grads, List<Strided> momentumBuffers, SgdParams h,
                            LrSchedule schedule, Strided coefficient, Strided skip, Strided step, Strided lrFactor,
                            List<Strided> lowPrecisionCopies) {
        checkF32("fusedSgd", params, grads);
        if (momentumBuffers != null) checkF32("fusedSgd", params, momentumBuffers);
        checkCopies("fusedSgd", params, lowPrecisionCopies);
        checkSteering("fusedSgd", coefficient, skip, step, lrFactor);
        host.bind();
        if (!params.isEmpty()) {
            List<List<Strided>> lists = new ArrayList<>(momentumBuffers == null ? List.of(params, grads) : List.of(params, grads, momentumBuffers));
            int copyList = withCopies(lists, lowPrecisionCopies);
            Resident r = table(lists);
            if (r.chunks() > 0) {
                LaunchArgs a = steering(r, params.size(), coefficient, skip, lrFactor, step, schedule)
                        .f64(h.momentum()).f64(h.dampening()).f64(h.weightDecay()).i32(h.nesterov() ? 1 : 0)
                        .i32(momentumBuffers == null ? 0 : 1).i32(copyList);
                host.launchGrid(FILE, "fused_sgd", grid(r.chunks()), BLOCK, a);
            }
        }
        increment(skip, step);
        return true;
    }

    /** Appends the working copies (if any) as the table's last list; returns that list's index, or -1 for none. */
    private static int withCopies(List<List<Strided>> lists, List<Strided> copies) {
        if (copies == null) return -1;
        lists.add(copies);
        return lists.size() - 1;
    }

    /** The arguments every optimizer kernel starts with: table, device scalars (null pointers: none), schedule. */
    private LaunchArgs steering(Resident r, int n, Strided coefficient, Strided skip, Strided lrFactor, Strided step, LrSchedule s) {
        return LaunchArgs.get().ptr(r.tensorsPtr()).ptr(r.chunksPtr()).i64(r.chunks()).i64(n)
                .ptr(coefficient == null ? 0 : host.pointer(coefficient)).i32(coefficient == null ? 0 : coefficient.dtype().ordinal())
                .ptr(skip == null ? 0 : host.pointer(skip)).i32(skip == null ? 0 : skip.dtype().ordinal())
                .ptr(lrFactor == null ? 0 : host.pointer(lrFactor)).i32(lrFactor == null ? 0 : lrFactor.dtype().ordinal())
                .ptr(host.pointer(step)).i32(s.kind().ordinal()).f64(s.lr()).i64(s.warmupSteps()).i64(s.stepSize())
                .f64(s.gamma()).i64(s.tMax()).f64(s.etaMin());
    }

    /** After the update kernel, so no block of it can see the new count: step += 1 unless skipped. */
    private void increment(Strided skip, Strided step) {
        LaunchArgs a = LaunchArgs.get().ptr(host.pointer(step)).ptr(skip == null ? 0 : host.pointer(skip))
                .i32(skip == null ? 0 : skip.dtype().ordinal());
        host.launchGrid(FILE, "step_increment", 1, 32, a);
    }

    // ------------------------------------------------------------------ checks

    private static void checkF32(String op, List<Strided> a, List<Strided> b) {
        if (b != null && a.size() != b.size())
            throw new IllegalArgumentException("cuda " + op + ": " + a.size() + " parameters but " + b.size() + " companions");
        for (int i = 0; i < a.size(); i++) {
            Strided x = a.get(i);
            if (x.dtype() != DType.F32 || !x.isContiguous())
                throw new IllegalArgumentException("cuda " + op + ": tensors must be contiguous f32, got " + x);
            if (b != null) {
                Strided y = b.get(i);
                if (y.dtype() != DType.F32 || !y.isContiguous())
                    throw new IllegalArgumentException("cuda " + op + ": tensors must be contiguous f32, got " + y);
                if (y.numel() != x.numel())
                    throw new IllegalArgumentException("cuda " + op + ": tensor " + i + " has " + x.numel()
                            + " elements but its companion has " + y.numel());
            }
        }
    }

    private static void checkCopies(String op, List<Strided> params, List<Strided> copies) {
        if (copies == null) return;
        if (copies.size() != params.size())
            throw new IllegalArgumentException("cuda " + op + ": " + copies.size() + " working copies for " + params.size() + " parameters");
        for (int i = 0; i < copies.size(); i++) {
            Strided c = copies.get(i);
            if (!c.dtype().isHalf() || !c.isContiguous() || c.numel() != params.get(i).numel())
                throw new IllegalArgumentException("cuda " + op + ": working copy " + i + " must be a contiguous f16 or bf16 tensor of "
                        + params.get(i).numel() + " elements, got " + c);
        }
    }

    private static void checkSteering(String op, Strided coefficient, Strided skip, Strided step, Strided lrFactor) {
        if (coefficient != null) requireScalar(coefficient, op + " coefficient");
        if (skip != null) requireScalar(skip, op + " skip");
        if (lrFactor != null) requireScalar(lrFactor, op + " lrFactor");
        if (step == null) throw new IllegalArgumentException("cuda " + op + ": step (one f64 element) is required");
        requireF64(step, 1, op + " step");
    }

    private static void requireScalar(Strided s, String what) {
        if (s.numel() != 1) throw new IllegalArgumentException("cuda " + what + ": must be one element, got " + s);
    }

    private static void requireF64(Strided s, long n, String what) {
        if (s.dtype() != DType.F64 || s.numel() != n || !s.isContiguous())
            throw new IllegalArgumentException("cuda " + what + ": must be " + n + " contiguous f64 elements, got " + s);
    }

    private static void requireContiguous(Strided s, String what) {
        if (!s.isContiguous()) throw new IllegalArgumentException("cuda " + what + ": tensors must be contiguous, got " + s);
    }
}
