package dev.ballast.cpu;

import dev.ballast.cpu.kernel.Copies;
import dev.ballast.cpu.kernel.Elementwise;
import dev.ballast.cpu.kernel.Indexing;
import dev.ballast.cpu.fused.CpuMultiTensorOps;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.fused.CpuFusedActivations;
import dev.ballast.cpu.fused.CpuFusedCells;
import dev.ballast.cpu.fused.CpuFusedNorms;
import dev.ballast.cpu.fused.CpuFusedAttention;
import dev.ballast.cpu.fused.CpuFusedRecurrentLayers;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.FusedRecurrentLayers;
import dev.ballast.engine.backend.FusedCells;
import dev.ballast.engine.backend.FusedNorms;
import dev.ballast.engine.backend.FusedAttention;
import dev.ballast.engine.backend.MultiTensorOps;
import java.util.List;
import dev.ballast.cpu.kernel.RandomFill;
import dev.ballast.cpu.kernel.Reductions;
import dev.ballast.cpu.kernel.Softmax;
import dev.ballast.cpu.kernel.View;
import dev.ballast.cpu.matmul.CpuMatmul;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.Gemm;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicLong;
import jdk.incubator.vector.FloatVector;

/**
 * The CPU backend: native memory ({@link CpuStorage}), Vector API inner loops and its own fork/join
 * pool. The thread count comes from the system property {@code ballast.threads}, else the environment
 * variable {@code BALLAST_THREADS}, else the number of available processors. All primitives run
 * synchronously on the calling thread plus the pool, so {@link #synchronize()} has nothing to wait
 * for. Results do not depend on the thread count (reductions use a fixed partition).
 *
 * <p>Semantics beyond the SPI's javadoc: floating math is done in double and rounded once to the
 * output dtype; integer arithmetic wraps (two's complement), DIV truncates toward zero and refuses
 * division by zero (ArithmeticException), and integer unary ops are limited to
 * {@link UnaryOp#definedForIntegers()}. A scalar operand is first converted to the tensor's dtype (float for F32).
 * Float-to-integer casts truncate (NaN gives 0, out-of-range saturates); integer-to-integer casts wrap.
 * F16/BF16 operands are accepted everywhere (computed through double) though the engine normally
 * widens them first; matmul widens them to F32 and rounds the product once.
 */
public final class CpuBackend implements Backend {
    /** System property naming the thread count. */
    public static final String THREADS_PROPERTY = "ballast.threads";
    /** Environment variable naming the thread count, read when the property is absent. */
    public static final String THREADS_ENV = "BALLAST_THREADS";

    private final int threads;
    private final ForkJoinPool pool;
    private final Parallel par;
    private final CpuMultiTensorOps fused;
    private final CpuFusedCells cells;
    private final CpuFusedRecurrentLayers layers;
    private final CpuFusedActivations activations;
    private final CpuFusedNorms norms;
    private final CpuFusedAttention attention;
    private final AtomicLong allocated = new AtomicLong();

    /** A backend with the configured thread count. */
    public CpuBackend() { this(configuredThreads()); }

    /** A backend with {@code threads} worker threads (at least 1). */
    public CpuBackend(int threads) {
        if (threads < 1) throw new IllegalArgumentException("CPU backend needs at least 1 thread, got " + threads);
        this.threads = threads;
        this.pool = new ForkJoinPool(threads, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("ballast-cpu-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
        this.par = new Parallel(pool, threads);
        this.fused = new CpuMultiTensorOps(par);
        this.cells = new CpuFusedCells(par);
        this.layers = new CpuFusedRecurrentLayers(par);
        this.activations = new CpuFusedActivations(par);
        this.norms = new CpuFusedNorms(par);
        this.attention = new CpuFusedAttention(par);
    }

    /** The fused multi-tensor kernels on this backend's pool ({@link CpuMultiTensorOps}). */
    @Override public Optional<MultiTensorOps> multiTensorOps() { return Optional.of(fused); }

    /** The fused LSTM and RNN cells on this backend's pool ({@link CpuFusedCells}). */
    @Override public Optional<FusedCells> fusedCells() { return Optional.of(cells); }

    /** Whole LSTM and RNN layers per call, weight packed once, batch rows split over the pool ({@link CpuFusedRecurrentLayers}). */
    @Override public Optional<FusedRecurrentLayers> fusedRecurrentLayers() { return Optional.of(layers); }

    /** The fused activation gradients on this backend's pool ({@link CpuFusedActivations}). */
    @Override public Optional<FusedActivations> fusedActivations() { return Optional.of(activations); }

    /** Fused layer normalization on this backend's pool ({@link CpuFusedNorms}). */
    @Override public Optional<FusedNorms> fusedNorms() { return Optional.of(norms); }

    /** Multi-head self-attention with the heads read in place, one (batch, head) pair per item ({@link CpuFusedAttention}). */
    @Override public Optional<FusedAttention> fusedAttention() { return Optional.of(attention); }

    /** The thread count from {@value #THREADS_PROPERTY}, {@value #THREADS_ENV}, or the processor count. */
    public static int configuredThreads() {
        String source = THREADS_PROPERTY;
        String v = System.getProperty(THREADS_PROPERTY);
        if (v == null || v.isBlank()) { v = System.getenv(THREADS_ENV); source = THREADS_ENV; }
        if (v == null || v.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(source + "='" + v + "' is not a valid thread count; allowed: a whole number >= 1");
    }

    /** Worker threads this backend uses. */
    public int threads() { return threads; }

    /** The pool its kernels run on. */
    public ForkJoinPool pool() { return pool; }

    static String vectorWidth() {
        var s = FloatVector.SPECIES_PREFERRED;
        return s.vectorBitSize() + " bits (" + s.length() + " x f32)";
    }

    @Override public String name() { return "cpu"; }

    @Override public String description() {
        return threads + (threads == 1 ? " thread, " : " threads, ") + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit vectors ("
                + System.getProperty("os.arch") + ")";
    }

    @Override public Map<String, String> facts() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("backend", "cpu");
        f.put("threads", threads + " (" + THREADS_PROPERTY + " / " + THREADS_ENV + "; " + Runtime.getRuntime().availableProcessors() + " processors)");
        f.put("vector width", vectorWidth());
        f.put("architecture", System.getProperty("os.arch") + ", " + System.getProperty("os.name"));
        f.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
        f.put("allocated", String.format(Locale.ROOT, "%d bytes", allocated.get()));
        f.put("cached", String.format(Locale.ROOT, "%d bytes (freed blocks kept for reuse)", BlockCache.cachedBytes()));
        return f;
    }

    // ---------------------------------------------------------------- memory

    @Override public Storage allocate(long bytes) { return new CpuStorage(this, bytes, allocated); }

    private static CpuStorage cpu(Storage s) {
        if (s instanceof CpuStorage c) return c;
        throw new IllegalArgumentException("storage belongs to the " + (s == null ? "null" : s.backend().name())
                + " backend, not the CPU backend; copy it to the CPU first");
    }

    @Override public void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {
        try {
            MemorySegment.copy(src, 0, cpu(dst).segment(), dstByteOffset, bytes);
        } finally {
            Reference.reachabilityFence(dst);
        }
    }

    @Override public void copyToHost(Storage src, long srcByteOffset, MemorySegment dst, long bytes) {
        try {
            MemorySegment.copy(cpu(src).segment(), srcByteOffset, dst, 0, bytes);
        } finally {
            Reference.reachabilityFence(src);
        }
    }

    @Override public long allocatedBytes() { return allocated.get(); }

    /** Bytes of freed blocks kept for reuse (shared by all CPU backends in the JVM). */
    public static long cachedBytes() { return BlockCache.cachedBytes(); }

    /**
     * Native memory counters of the CPU backends (JVM-wide): bytes held by live tensors of this backend, bytes of
     * freed blocks kept for reuse, and the C library's {@code aligned_alloc} / {@code free} calls so far. A
     * training step that allocates nothing from the C library after warm-up leaves the call counts unchanged.
     */
    public record MemoryStats(long inUseBytes, long cachedBytes, long libcAllocations, long libcFrees) {}

    /** This backend's memory counters now. */
    public MemoryStats memoryStats() {
        return new MemoryStats(allocated.get(), BlockCache.cachedBytes(), NativeMemory.allocations(), NativeMemory.frees());
    }

    /** Returns every cached block to the C library. */
    public static void emptyCache() { BlockCache.empty(); }

    @Override public void synchronize() {
        // every primitive has completed when it returns
    }

    private static View view(Strided s) {
        return new View(cpu(s.storage()).segment(), s.dtype(), s.offset(), s.shape(), s.strides());
    }

    // ---------------------------------------------------------------- data movement

    @Override public boolean supportsStridedCopyDestination() { return true; }

    @Override public void copy(Strided src, Strided dst) {
        try {
            Copies.copy(par, view(src), view(dst));
        } finally {
            Reference.reachabilityFence(src);
            Reference.reachabilityFence(dst);
        }
    }

    @Override public void fill(Strided dst, double value) {
        try {
            Copies.fill(par, view(dst), value);
        } finally {
            Reference.reachabilityFence(dst);
        }
    }

    @Override public void random(RandomKind kind, long seed, long offset, Strided dst) {
        try {
            if (dst.numel() != 0 && !dst.isContiguous()) throw new IllegalArgumentException("random: destination must be contiguous, got " + dst);
            RandomFill.fill(par, kind, seed, offset, view(dst));
        } finally {
            Reference.reachabilityFence(dst);
        }
    }

    // ---------------------------------------------------------------- compute

    @Override public void unary(UnaryOp op, Strided x, Strided out) {
        op.requireDefinedFor(x.dtype());
        try {
            Elementwise.unary(par, op, view(x), view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void binary(BinaryOp op, Strided a, Strided b, Strided out) {
        try {
            if (a.dtype() != b.dtype())
                throw new IllegalArgumentException("binary " + op + ": operands have dtypes " + a.dtype() + " and " + b.dtype()
                        + "; the engine promotes them to one dtype first");
            Elementwise.binary(par, op, view(a), view(b), view(out));
        } finally {
            Reference.reachabilityFence(a);
            Reference.reachabilityFence(b);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void binaryScalar(BinaryOp op, Strided x, double scalar, boolean scalarFirst, Strided out) {
        try {
            Elementwise.binaryScalar(par, op, view(x), scalar, scalarFirst, view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void where(Strided cond, Strided a, Strided b, Strided out) {
        try {
            Elementwise.where(par, view(cond), view(a), view(b), view(out));
        } finally {
            Reference.reachabilityFence(cond);
            Reference.reachabilityFence(a);
            Reference.reachabilityFence(b);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void reduce(ReduceOp op, Strided x, long outer, long n, long inner, Strided out) {
        try {
            if (!x.isContiguous() && x.numel() != 0) throw new IllegalArgumentException("reduce " + op + ": input must be contiguous, got " + x);
            if ((op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN) && out.dtype() != DType.I64)
                throw new IllegalArgumentException(op + " writes i64 indices; output dtype is " + out.dtype());
            Reductions.reduce(par, op, view(x), outer, n, inner, view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void softmax(Strided x, long rows, long n, boolean log, Strided out) {
        try {
            Softmax.softmax(par, view(x), rows, n, log, view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void indexSelect(Strided x, long outer, long n, long inner, Strided index, Strided out) {
        try {
            Indexing.indexSelect(par, view(x), outer, n, inner, view(index), view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(index);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void indexAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        try {
            Indexing.indexAdd(par, view(src), outer, m, inner, view(index), view(out), n);
        } finally {
            Reference.reachabilityFence(src);
            Reference.reachabilityFence(index);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void gather(Strided x, long outer, long n, long inner, Strided index, long m, Strided out) {
        try {
            Indexing.gather(par, view(x), outer, n, inner, view(index), m, view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(index);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void scatterAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        try {
            Indexing.scatterAdd(par, view(src), outer, m, inner, view(index), view(out), n);
        } finally {
            Reference.reachabilityFence(src);
            Reference.reachabilityFence(index);
            Reference.reachabilityFence(out);
        }
    }

    // ---------------------------------------------------------------- matmul

    /**
     * F16/BF16 products run here (mixed precision's matmuls): the operands are widened to F32 with the vectorized
     * row conversions, multiplied by the packed F32 kernel (F32 accumulation) and the product rounded once.
     */
    @Override public boolean supportsHalfMatmul() { return true; }

    @Override public void matmul(Gemm g) {
        try {
            MemorySegment a = cpu(g.a()).segment(), b = cpu(g.b()).segment(), c = cpu(g.c()).segment();
            switch (g.dtype()) {
                case F32 -> CpuMatmul.gemmF32(g.batch(), g.m(), g.n(), g.k(),
                        a, g.aOffset(), g.aBatchStride(), g.aRowStride(), g.aColStride(),
                        b, g.bOffset(), g.bBatchStride(), g.bRowStride(), g.bColStride(),
                        c, g.cOffset(), g.cBatchStride(), g.cRowStride(), pool);
                case F64 -> CpuMatmul.gemmF64(g.batch(), g.m(), g.n(), g.k(),
                        a, g.aOffset(), g.aBatchStride(), g.aRowStride(), g.aColStride(),
                        b, g.bOffset(), g.bBatchStride(), g.bRowStride(), g.bColStride(),
                        c, g.cOffset(), g.cBatchStride(), g.cRowStride(), pool);
                case F16, BF16 -> halfMatmul(g, a, b, c);
                default -> throw new IllegalArgumentException("matmul needs a floating dtype (f32, f64, f16, bf16), got " + g.dtype());
            }
        } finally {
            Reference.reachabilityFence(g);
        }
    }

    /** F16/BF16: widen the operands to F32, multiply, and round the product back once. */
    private void halfMatmul(Gemm g, MemorySegment a, MemorySegment b, MemorySegment c) {
        int batch = g.batch(), m = g.m(), n = g.n(), k = g.k();
        DType t = g.dtype();
        long ab = g.aBatchStride() == 0 ? 1 : batch, bb = g.bBatchStride() == 0 ? 1 : batch;
        // temporaries in this backend's own memory: the pool threads read them, and they are counted while alive
        CpuStorage ta = (CpuStorage) allocate(ab * m * k * 4), tb = (CpuStorage) allocate(bb * k * n * 4);
        CpuStorage tc = (CpuStorage) allocate((long) batch * m * n * 4);
        try {
            MemorySegment a32 = ta.segment(), b32 = tb.segment(), c32 = tc.segment();
            Copies.copy(par, new View(a, t, g.aOffset(), new long[] {ab, m, k}, new long[] {g.aBatchStride(), g.aRowStride(), g.aColStride()}),
                    new View(a32, DType.F32, 0, new long[] {ab, m, k}, Strided.rowMajorStrides(new long[] {ab, m, k})));
            Copies.copy(par, new View(b, t, g.bOffset(), new long[] {bb, k, n}, new long[] {g.bBatchStride(), g.bRowStride(), g.bColStride()}),
                    new View(b32, DType.F32, 0, new long[] {bb, k, n}, Strided.rowMajorStrides(new long[] {bb, k, n})));
            CpuMatmul.gemmF32(batch, m, n, k, a32, 0, ab == 1 ? 0 : (long) m * k, k, 1, b32, 0, bb == 1 ? 0 : (long) k * n, n, 1,
                    c32, 0, (long) m * n, n, pool);
            long[] shape = {batch, m, n};
            Copies.copy(par, new View(c32, DType.F32, 0, shape, Strided.rowMajorStrides(shape)),
                    new View(c, t, g.cOffset(), shape, new long[] {g.cBatchStride(), g.cRowStride(), 1}));
        } finally {
            ta.release();
            tb.release();
            tc.release();
        }
    }

    @Override public String toString() { return "cpu(" + threads + " threads)"; }
}
