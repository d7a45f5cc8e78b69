package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.cuda.memory.CachingAllocator;
import dev.ballast.cuda.memory.DeviceMemory;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.Gemm;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The CUDA {@link Backend}: one device, its primary context, one non-blocking stream on which every
 * primitive is queued in call order, a {@link CachingAllocator}, kernels compiled by NVRTC from the
 * shipped {@code .cu} sources ({@link KernelCache}) and cuBLAS for matmul. Work is asynchronous;
 * {@link #copyToHost} and {@link #synchronize} wait. Elementwise, reduction, softmax and index
 * primitives take F32, F64, I32 and I64 (softmax: F32, F64); copy, fill and matmul also F16 and BF16.
 * Matmul runs in FP32 unless {@link #setAllowTf32(boolean)} allows TF32 tensor cores; F16 and BF16
 * accumulate in F32. The fused multi-tensor ops ({@link MultiTensorOps}: gradient norm, clip coefficient,
 * scaling, Adam and SGD steps) run as single launches over all tensors ({@link CudaMultiTensor}).
 */
public final class CudaBackend implements Backend {
    private static volatile boolean allowTf32;

    private final CudaDevice device;
    private final CudaDriver cu;
    private final MemorySegment stream;
    private final CachingAllocator allocator;
    private final CudaLauncher launcher;
    private final CudaTransfers transfers;
    private final CudaMatmul matmul;
    private final CudaMultiTensor fused = new CudaMultiTensor(this);
    private volatile CudaGraph.Capture capture; // a CudaGraph capture in progress, or null

    /** Opens the backend on a probed runtime. */
    static Backend open(CudaRuntime runtime) {
        return new CudaBackend(runtime);
    }

    private CudaBackend(CudaRuntime rt) {
        device = new CudaDevice(rt);
        cu = device.cu;
        stream = device.stream;
        allocator = new CachingAllocator(new DeviceMemory() {
            @Override public long malloc(long bytes) {
                try {
                    return cu.memAlloc(bytes);
                } catch (CudaException e) {
                    if (e.status() == CudaDriver.ERROR_OUT_OF_MEMORY) throw new OutOfDeviceMemory(e.getMessage());
                    throw e;
                }
            }
            @Override public void free(long ptr) { cu.memFree(ptr); }
            @Override public long[] memInfo() { return cu.memGetInfo(); }
        });
        launcher = new CudaLauncher(device);
        transfers = new CudaTransfers(this, device);
        matmul = new CudaMatmul(this, device);
    }

    // ---------------------------------------------------------------- configuration and facts

    /** Allows TF32 tensor-core math for F32 matmul (faster, ~10-bit mantissa products); off by default. */
    public static void setAllowTf32(boolean allow) { allowTf32 = allow; }

    /** Whether F32 matmul may use TF32. */
    public static boolean allowTf32() { return allowTf32; }

    @Override public String name() { return "cuda"; }

    /** cuBLAS multiplies F16 and BF16 directly, accumulating in F32 (CUBLAS_COMPUTE_32F). */
    @Override public boolean supportsHalfMatmul() { return true; }

    @Override public String description() { return device.description(); }

    @Override public Map<String, String> facts() {
        Map<String, String> f = new LinkedHashMap<>();
        device.facts(f);
        launcher.facts(f);
        matmul.facts(f);
        var st = allocator.stats();
        f.put("allocator", "in use " + st.allocated() + " B, reserved " + st.reserved() + " B, peak " + st.peakAllocated()
                + " B, driver allocations " + st.driverAllocations());
        return f;
    }

    /** The allocator's counters. */
    public CachingAllocator.Stats memoryStats() { return allocator.stats(); }

    /** Returns cached device memory to the driver (after waiting for queued work). */
    public void emptyCache() { synchronize(); allocator.emptyCache(); }

    /** The driver binding, for benchmarks that time with events. */
    public CudaDriver driver() { return cu; }

    /** The stream all work is queued on. */
    public MemorySegment stream() { return stream; }

    /** How many kernel files this process compiled rather than read from the disk cache. */
    public int kernelCompiles() { return launcher.compiles(); }

    /**
     * Makes the context current on the calling OS thread, for the cuBLAS calls that follow (driver calls bind it
     * themselves: {@link CudaDriver#useContext}). Every call on a virtual thread, once on a platform thread.
     */
    public void bind() { device.bind(); }

    // ---------------------------------------------------------------- memory

    @Override public Storage allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        refuseDuringCapture("allocate " + bytes + " bytes", "allocate every buffer before capturing");
        bind();
        return new CudaStorage(this, allocator, allocator.allocate(bytes, stream), bytes);
    }

    @Override public void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {
        transfers.copyFromHost(src, dst, dstByteOffset, bytes);
    }

    @Override public void copyToHost(Storage src, long srcByteOffset, MemorySegment dst, long bytes) {
        transfers.copyToHost(src, srcByteOffset, dst, bytes);
    }

    @Override public long allocatedBytes() { return allocator.requestedBytes(); }

    @Override public void synchronize() {
        refuseDuringCapture("synchronize", "synchronize after replaying the graph");
        bind();
        cu.streamSynchronize(stream);
    }

    // ---------------------------------------------------------------- data movement

    @Override public void copy(Strided src, Strided dst) {
        requireContiguous(dst, "copy");
        requireSameCount(src, dst, "copy");
        long n = dst.numel();
        if (n == 0) return;
        bind();
        if (src.dtype() == dst.dtype() && src.isContiguous()) {
            cu.memcpyDtoDAsync(ptr(dst), ptr(src), n * dst.dtype().byteSize(), stream);
            return;
        }
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(dst)).i64(n).nd(NdArgs.of(src.shape(), src.strides()));
        launch("copy.cu", "cast_" + sfx(src.dtype()) + "_" + sfx(dst.dtype()), n, a);
    }

    @Override public void fill(Strided dst, double value) {
        requireContiguous(dst, "fill");
        long n = dst.numel();
        if (n == 0) return;
        bind();
        long bits = switch (dst.dtype()) {
            case F32 -> Float.floatToRawIntBits((float) value) & 0xFFFFFFFFL;
            case F64 -> Double.doubleToRawLongBits(value);
            case F16 -> Float.floatToFloat16((float) value) & 0xFFFFL;
            case BF16 -> HalfBits.toBf16((float) value) & 0xFFFFL;
            case I32 -> ((int) value) & 0xFFFFFFFFL;
            case I64 -> (long) value;
        };
        int size = dst.dtype().byteSize();
        if (bits == 0) {
            cu.memsetD8Async(ptr(dst), (byte) 0, n * size, stream);
            return;
        }
        LaunchArgs a = LaunchArgs.get().ptr(ptr(dst)).i64(n);
        switch (size) {
            case 2 -> a.u16((short) bits);
            case 4 -> a.i32((int) bits);
            default -> a.i64(bits);
        }
        launch("copy.cu", "fill_b" + size * 8, n, a);
    }

    @Override public void random(RandomKind kind, long seed, long offset, Strided dst) {
        requireContiguous(dst, "random");
        if (dst.dtype() != DType.F32 && dst.dtype() != DType.F64)
            throw new IllegalArgumentException("random fills F32 or F64, not " + dst.dtype());
        long n = dst.numel();
        if (n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(dst)).i64(n).i64(seed).i64(offset);
        String k = (kind == RandomKind.UNIFORM ? "uniform_" : "normal_") + sfx(dst.dtype());
        launch("random.cu", k, kind == RandomKind.UNIFORM ? n / 4 + 2 : n / 2 + 2, a);
    }

    // ---------------------------------------------------------------- elementwise

    @Override public void unary(UnaryOp op, Strided x, Strided out) {
        String t = computeSfx(x.dtype(), "unary " + op);
        op.requireDefinedFor(x.dtype()); // the same set and error as the CPU backend; never a float function through double
        requireSameDtype(x, out, "unary " + op);
        requireContiguous(out, "unary " + op);
        requireSameCount(x, out, "unary " + op);
        long n = out.numel();
        if (n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(n).i32(OpCodes.unary(op));
        if (x.isContiguous()) launch("elementwise.cu", "unary_contig_" + t, n, a);
        else launch("elementwise.cu", "unary_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides())));
    }

    @Override public void binary(BinaryOp op, Strided x, Strided y, Strided out) {
        String t = computeSfx(out.dtype(), "binary " + op);
        requireSameDtype(x, out, "binary " + op);
        requireSameDtype(y, out, "binary " + op);
        requireContiguous(out, "binary " + op);
        requireSameShape(x, out, "binary " + op);
        requireSameShape(y, out, "binary " + op);
        long n = out.numel();
        if (n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(out)).i64(n).i32(OpCodes.binary(op));
        if (x.isContiguous() && y.isContiguous()) launch("elementwise.cu", "binary_contig_" + t, n, a);
        else launch("elementwise.cu", "binary_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides(), y.strides())));
    }

    @Override public void binaryScalar(BinaryOp op, Strided x, double scalar, boolean scalarFirst, Strided out) {
        String t = computeSfx(out.dtype(), "binaryScalar " + op);
        requireSameDtype(x, out, "binaryScalar " + op);
        requireContiguous(out, "binaryScalar " + op);
        requireSameCount(x, out, "binaryScalar " + op);
        long n = out.numel();
        if (n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(n).i32(OpCodes.binary(op)).f64(scalar).i32(scalarFirst ? 1 : 0);
        if (x.isContiguous()) launch("elementwise.cu", "binary_scalar_contig_" + t, n, a);
        else launch("elementwise.cu", "binary_scalar_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides())));
    }

    @Override public void where(Strided cond, Strided x, Strided y, Strided out) {
        String t = computeSfx(out.dtype(), "where");
        String c = computeSfx(cond.dtype(), "where (condition)");
        requireSameDtype(x, out, "where");
        requireSameDtype(y, out, "where");
        requireContiguous(out, "where");
        requireSameShape(cond, out, "where");
        requireSameShape(x, out, "where");
        requireSameShape(y, out, "where");
        long n = out.numel();
        if (n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(cond)).ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(out)).i64(n)
                .nd(NdArgs.of(out.shape(), cond.strides(), x.strides(), y.strides()));
        launch("elementwise.cu", "where_" + c + "_" + t, n, a);
    }

    // ---------------------------------------------------------------- reductions

    @Override public void reduce(ReduceOp op, Strided x, long outer, long n, long inner, Strided out) {
        String t = computeSfx(x.dtype(), "reduce " + op);
        requireContiguous(x, "reduce " + op);
        requireContiguous(out, "reduce " + op);
        if (x.numel() != outer * n * inner || out.numel() != outer * inner)
            throw new IllegalArgumentException("reduce " + op + ": x has " + x.numel() + " elements and out " + out.numel()
                    + " for [outer=" + outer + ", n=" + n + ", inner=" + inner + "]");
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        if (arg ? out.dtype() != DType.I64 : out.dtype() != x.dtype())
            throw new IllegalArgumentException("reduce " + op + ": out must be " + (arg ? DType.I64 : x.dtype()) + ", got " + out.dtype());
        if (outer * inner == 0) return;
        if (n == 0) {
            if (op != ReduceOp.SUM) throw new IllegalArgumentException("reduce " + op + " over an empty axis has no result");
            fill(out, 0);
            return;
        }
        bind();
        int code = OpCodes.reduce(op);
        String kind = arg ? "argreduce_" : "reduce_";
        if (inner == 1) {
            LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(outer).i64(n).i32(code);
            launchBlocks("reduce.cu", kind + "rows_" + t, outer, a);
        } else {
            LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i32(code);
            launch("reduce.cu", kind + "cols_" + t, outer * inner, a);
        }
    }

    @Override public void softmax(Strided x, long rows, long n, boolean log, Strided out) {
        if (x.dtype() != DType.F32 && x.dtype() != DType.F64)
            throw new IllegalArgumentException("softmax takes F32 or F64, not " + x.dtype());
        requireSameDtype(x, out, "softmax");
        requireContiguous(x, "softmax");
        requireContiguous(out, "softmax");
        if (x.numel() != rows * n || out.numel() != rows * n)
            throw new IllegalArgumentException("softmax: " + rows + " rows of " + n + " need " + rows * n + " elements, x has "
                    + x.numel() + " and out " + out.numel());
        if (rows * n == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(rows).i64(n).i32(log ? 1 : 0);
        launchBlocks("softmax.cu", "softmax_" + sfx(x.dtype()), rows, a);
    }

    // ---------------------------------------------------------------- indexing

    @Override public void indexSelect(Strided x, long outer, long n, long inner, Strided index, Strided out) {
        String t = indexChecks("indexSelect", x, outer * n * inner, index, out);
        long m = index.numel();
        if (out.numel() != outer * m * inner) throw new IllegalArgumentException("indexSelect: out has " + out.numel() + " elements, expected " + outer * m * inner);
        if (out.numel() == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i64(m);
        launch("index.cu", "index_select_" + t, out.numel(), a);
    }

    @Override public void indexAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        String t = indexChecks("indexAdd", src, outer * m * inner, index, out);
        if (index.numel() != m) throw new IllegalArgumentException("indexAdd: index has " + index.numel() + " entries, expected m=" + m);
        if (out.numel() != outer * n * inner) throw new IllegalArgumentException("indexAdd: out has " + out.numel() + " elements, expected " + outer * n * inner);
        if (outer * inner * m == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(m).i64(inner).i64(n);
        launch("index.cu", "index_add_" + t, outer * inner, a);
    }

    @Override public void gather(Strided x, long outer, long n, long inner, Strided index, long m, Strided out) {
        String t = indexChecks("gather", x, outer * n * inner, index, out);
        if (index.numel() != outer * m * inner || out.numel() != outer * m * inner)
            throw new IllegalArgumentException("gather: index and out need " + outer * m * inner + " elements, have " + index.numel() + " and " + out.numel());
        if (out.numel() == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i64(m);
        launch("index.cu", "gather_" + t, out.numel(), a);
    }

    @Override public void scatterAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        String t = indexChecks("scatterAdd", src, outer * m * inner, index, out);
        if (index.numel() != outer * m * inner) throw new IllegalArgumentException("scatterAdd: index has " + index.numel() + " elements, expected " + outer * m * inner);
        if (out.numel() != outer * n * inner) throw new IllegalArgumentException("scatterAdd: out has " + out.numel() + " elements, expected " + outer * n * inner);
        if (outer * inner * m == 0) return;
        bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(m).i64(inner).i64(n);
        launch("index.cu", "scatter_add_" + t, outer * inner, a);
    }

    private String indexChecks(String what, Strided values, long expected, Strided index, Strided out) {
        String t = computeSfx(values.dtype(), what);
        requireSameDtype(values, out, what);
        if (index.dtype() != DType.I64) throw new IllegalArgumentException(what + ": index must be I64, got " + index.dtype());
        requireContiguous(values, what);
        requireContiguous(index, what);
        requireContiguous(out, what);
        if (values.numel() != expected)
            throw new IllegalArgumentException(what + ": operand has " + values.numel() + " elements, expected " + expected);
        return t;
    }

    // ---------------------------------------------------------------- fused multi-tensor ops

    /** Single-launch multi-tensor kernels ({@link CudaMultiTensor}). */
    @Override public Optional<MultiTensorOps> multiTensorOps() { return Optional.of(fused); }

    // ---------------------------------------------------------------- matmul (CudaMatmul)

    @Override public void matmul(Gemm g) { matmul.matmul(g); }

    // ---------------------------------------------------------------- launching (CudaLauncher)

    private void launch(String file, String kernel, long work, LaunchArgs a) { launcher.launch(file, kernel, work, a); }

    /** An explicit grid of {@code blocks} blocks of {@code threads} threads. */
    void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a) { launcher.launchGrid(file, kernel, blocks, threads, a); }

    private void launchBlocks(String file, String kernel, long rows, LaunchArgs a) { launcher.launchBlocks(file, kernel, rows, a); }

    /** Streaming multiprocessors on the device (grid sizing). */
    int multiprocessors() { return device.sms; }

    // ---------------------------------------------------------------- checks and helpers

    long storagePtr(Storage s) {
        if (!(s instanceof CudaStorage cs) || cs.backend() != this)
            throw new IllegalArgumentException("operand lives on backend '" + s.backend().name() + "', not on this CUDA backend");
        CudaGraph.Capture c = capture;
        if (c != null) {
            refuseDuringCapture("use " + cs, "wait for the capture to end");
            c.used.add(cs); // every operand of every captured launch passes here
        }
        return cs.ptr();
    }

    // ---------------------------------------------------------------- graph capture (CudaGraph)

    synchronized CudaGraph.Capture beginCapture() {
        if (capture != null) throw new IllegalStateException("a CUDA graph capture is already in progress on " + capture.thread);
        capture = new CudaGraph.Capture();
        return capture;
    }

    synchronized void endCapture(CudaGraph.Capture c) {
        if (capture == c) capture = null;
    }

    /** Whether a graph is being captured on this backend's stream. */
    boolean capturing() { return capture != null; }

    /**
     * Throws what cannot happen while a graph is captured: {@code what} on the capturing thread, or any work from
     * another thread (it would be queued into the graph).
     */
    void refuseDuringCapture(String what, String instead) {
        CudaGraph.Capture c = capture;
        if (c == null) return;
        if (c.thread != Thread.currentThread())
            throw new IllegalStateException("cuda: " + what + " from " + Thread.currentThread() + " while " + c.thread
                    + " captures a CUDA graph on this backend's stream; wait for the capture to end");
        if (!what.startsWith("use "))
            throw new IllegalStateException("cuda: cannot " + what + " while capturing a CUDA graph; " + instead);
    }

    /** Keeps a chunk table used by the capture in progress alive for the graph's lifetime (once per capture). */
    void retainForCapture(Storage... storages) {
        CudaGraph.Capture c = capture;
        if (c == null) return;
        for (Storage s : storages) {
            if (c.retained.contains(s)) continue;
            s.retain();
            c.retained.add(s);
        }
    }

    private long ptr(Strided s) {
        return storagePtr(s.storage()) + s.offset() * s.dtype().byteSize();
    }

    /** The device address of a view's first element; fails when it lives elsewhere. */
    long pointer(Strided s) { return ptr(s); }

    long devicePtr(Storage s, long offset, long bytes, String what) {
        long base = storagePtr(s);
        if (offset < 0 || bytes < 0 || offset + bytes > s.byteSize())
            throw new IndexOutOfBoundsException(what + ": bytes [" + offset + ", " + (offset + bytes) + ") outside a storage of " + s.byteSize());
        return base + offset;
    }

    private static String sfx(DType t) { return t.label(); }

    private static String computeSfx(DType t, String what) {
        return switch (t) {
            case F32, F64, I32, I64 -> t.label();
            case F16, BF16 -> throw new IllegalArgumentException("cuda " + what + ": " + t + " operands are not computed directly"
                    + " (supportsHalfCompute() is false); cast to F32 first. Allowed: F32, F64, I32, I64");
        };
    }

    private static void requireContiguous(Strided s, String what) {
        if (!s.isContiguous()) throw new IllegalArgumentException("cuda " + what + ": operand must be contiguous, got " + s);
    }

    private static void requireSameDtype(Strided a, Strided b, String what) {
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException("cuda " + what + ": dtypes differ, " + a.dtype() + " and " + b.dtype());
    }

    private static void requireSameCount(Strided a, Strided b, String what) {
        if (a.numel() != b.numel())
            throw new IllegalArgumentException("cuda " + what + ": shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " differ in size");
    }

    private static void requireSameShape(Strided a, Strided b, String what) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException("cuda " + what + ": shape " + Arrays.toString(a.shape()) + " is not out's shape " + Arrays.toString(b.shape()));
    }

}
