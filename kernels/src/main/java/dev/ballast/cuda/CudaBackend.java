package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.cuda.memory.CachingAllocator;
import dev.ballast.cuda.memory.DeviceMemory;
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
 *
 * <p>This class holds the device, the allocator and the graph-capture state; the primitives live beside it, along
 * the same seams as the CPU side: {@link CudaElementwise}, {@link CudaReductions}, {@link CudaMultiTensor} (each sees
 * the backend as a {@link KernelHost}), {@link CudaMatmul}, {@link CudaTransfers}, with {@link CudaLauncher} compiling
 * and launching the kernels.
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
    private final KernelHost host = new Host();
    private final CudaElementwise elementwise = new CudaElementwise(host);
    private final CudaReductions reductions = new CudaReductions(host, elementwise);
    private final CudaMultiTensor fused = new CudaMultiTensor(host);
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

    // ---------------------------------------------------------------- primitives (CudaElementwise, CudaReductions)

    @Override public void copy(Strided src, Strided dst) { elementwise.copy(src, dst); }

    @Override public void fill(Strided dst, double value) { elementwise.fill(dst, value); }

    @Override public void random(RandomKind kind, long seed, long offset, Strided dst) { elementwise.random(kind, seed, offset, dst); }

    @Override public void unary(UnaryOp op, Strided x, Strided out) { elementwise.unary(op, x, out); }

    @Override public void binary(BinaryOp op, Strided x, Strided y, Strided out) { elementwise.binary(op, x, y, out); }

    @Override public void binaryScalar(BinaryOp op, Strided x, double scalar, boolean scalarFirst, Strided out) {
        elementwise.binaryScalar(op, x, scalar, scalarFirst, out);
    }

    @Override public void where(Strided cond, Strided x, Strided y, Strided out) { elementwise.where(cond, x, y, out); }

    @Override public void reduce(ReduceOp op, Strided x, long outer, long n, long inner, Strided out) {
        reductions.reduce(op, x, outer, n, inner, out);
    }

    @Override public void softmax(Strided x, long rows, long n, boolean log, Strided out) { reductions.softmax(x, rows, n, log, out); }

    @Override public void indexSelect(Strided x, long outer, long n, long inner, Strided index, Strided out) {
        reductions.indexSelect(x, outer, n, inner, index, out);
    }

    @Override public void indexAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        reductions.indexAdd(src, outer, m, inner, index, out, n);
    }

    @Override public void gather(Strided x, long outer, long n, long inner, Strided index, long m, Strided out) {
        reductions.gather(x, outer, n, inner, index, m, out);
    }

    @Override public void scatterAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        reductions.scatterAdd(src, outer, m, inner, index, out, n);
    }

    // ---------------------------------------------------------------- fused multi-tensor ops

    /** Single-launch multi-tensor kernels ({@link CudaMultiTensor}). */
    @Override public Optional<MultiTensorOps> multiTensorOps() { return Optional.of(fused); }

    // ---------------------------------------------------------------- matmul (CudaMatmul)

    @Override public void matmul(Gemm g) { matmul.matmul(g); }

    // ---------------------------------------------------------------- what the primitives use (KernelHost)

    /** The backend as its kernel-launching primitives see it. */
    private final class Host implements KernelHost {
        @Override public long pointer(Strided s) { return CudaBackend.this.pointer(s); }
        @Override public long storagePtr(Storage s) { return CudaBackend.this.storagePtr(s); }
        @Override public void bind() { CudaBackend.this.bind(); }
        @Override public int multiprocessors() { return device.sms; }
        @Override public void launch(String file, String kernel, long work, LaunchArgs a) { launcher.launch(file, kernel, work, a); }
        @Override public void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a) {
            launcher.launchGrid(file, kernel, blocks, threads, a);
        }
        @Override public void launchBlocks(String file, String kernel, long rows, LaunchArgs a) { launcher.launchBlocks(file, kernel, rows, a); }
        @Override public void copyDeviceToDevice(long dst, long src, long bytes) { cu.memcpyDtoDAsync(dst, src, bytes, stream); }
        @Override public void zero(long dst, long bytes) { cu.memsetD8Async(dst, (byte) 0, bytes, stream); }
        @Override public Storage allocate(long bytes) { return CudaBackend.this.allocate(bytes); }
        @Override public void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {
            CudaBackend.this.copyFromHost(src, dst, dstByteOffset, bytes);
        }
        @Override public void fill(Strided dst, double value) { elementwise.fill(dst, value); }
        @Override public void refuseDuringCapture(String what, String instead) { CudaBackend.this.refuseDuringCapture(what, instead); }
        @Override public void retainForCapture(Storage... storages) { CudaBackend.this.retainForCapture(storages); }
    }

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

    /** The device address of a view's first element; fails when it lives elsewhere. */
    long pointer(Strided s) {
        return storagePtr(s.storage()) + s.offset() * s.dtype().byteSize();
    }

    long devicePtr(Storage s, long offset, long bytes, String what) {
        long base = storagePtr(s);
        if (offset < 0 || bytes < 0 || offset + bytes > s.byteSize())
            throw new IndexOutOfBoundsException(what + ": bytes [" + offset + ", " + (offset + bytes) + ") outside a storage of " + s.byteSize());
        return base + offset;
    }
}
