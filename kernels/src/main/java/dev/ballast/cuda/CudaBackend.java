package dev.ballast.cuda;

import dev.ballast.cuda.cublas.Cublas;
import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.cuda.memory.CachingAllocator;
import dev.ballast.cuda.memory.DeviceMemory;
import dev.ballast.cuda.nvrtc.Nvrtc;
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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

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
    private static final int BLOCK = 256;
    private static final long STAGING_BYTES = 8L << 20;
    private static volatile boolean allowTf32;

    private final CudaRuntime rt;
    private final CudaDriver cu;
    private final Nvrtc nvrtc;
    private final Cublas cublas;
    private final MemorySegment ctx, stream, cublasHandle;
    private final CachingAllocator allocator;
    private final KernelCache kernelCache;
    private final KernelCache.Modules<MemorySegment> modules;
    private final Map<String, MemorySegment> functions = new ConcurrentHashMap<>();
    private final ThreadLocal<Boolean> ctxBound = ThreadLocal.withInitial(() -> false);
    private final String deviceName;
    private final int ccMajor, ccMinor, sms, nvrtcMajor, nvrtcMinor, cublasVersion;
    private final long totalMem;
    private final MemorySegment scalars; // alpha/beta for cuBLAS: f32 1, f32 0, f64 1, f64 0
    private final Object stagingLock = new Object();
    private MemorySegment staging; // page-locked, for heap segments; guarded by stagingLock
    private final CudaMultiTensor fused = new CudaMultiTensor(this);

    /** Opens the backend on a probed runtime. */
    static Backend open(CudaRuntime runtime) {
        return new CudaBackend(runtime);
    }

    private CudaBackend(CudaRuntime rt) {
        this.rt = rt;
        this.cu = rt.driver();
        int dev = rt.device();
        deviceName = cu.deviceName(dev);
        ccMajor = cu.deviceAttribute(CudaDriver.ATTR_CC_MAJOR, dev);
        ccMinor = cu.deviceAttribute(CudaDriver.ATTR_CC_MINOR, dev);
        sms = cu.deviceAttribute(CudaDriver.ATTR_MULTIPROCESSOR_COUNT, dev);
        totalMem = cu.deviceTotalMem(dev);
        ctx = cu.primaryCtxRetain(dev);
        bind();
        stream = cu.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        nvrtc = new Nvrtc(rt.nvrtc());
        int[] nv = nvrtc.version();
        nvrtcMajor = nv[0];
        nvrtcMinor = nv[1];
        cublas = new Cublas(rt.cublas());
        cublasHandle = cublas.create();
        cublas.setStream(cublasHandle, stream);
        cublasVersion = cublas.version(cublasHandle);
        scalars = Arena.global().allocate(32, 8);
        scalars.set(ValueLayout.JAVA_FLOAT, 0, 1f);
        scalars.set(ValueLayout.JAVA_FLOAT, 4, 0f);
        scalars.set(ValueLayout.JAVA_DOUBLE, 8, 1d);
        scalars.set(ValueLayout.JAVA_DOUBLE, 16, 0d);
        allocator = new CachingAllocator(new DeviceMemory() {
            @Override public long malloc(long bytes) {
                bind();
                try {
                    return cu.memAlloc(bytes);
                } catch (CudaException e) {
                    if (e.status() == CudaDriver.ERROR_OUT_OF_MEMORY) throw new OutOfDeviceMemory(e.getMessage());
                    throw e;
                }
            }
            @Override public void free(long ptr) { bind(); cu.memFree(ptr); }
            @Override public long[] memInfo() { bind(); return cu.memGetInfo(); }
        });
        List<String> options = new ArrayList<>(List.of("-std=c++17"));
        cudaIncludeDir().ifPresent(d -> options.add("--include-path=" + d));
        String arch = "sm_" + ccMajor + ccMinor;
        kernelCache = new KernelCache(nvrtc::compileToCubin, arch, "nvrtc " + nvrtcMajor + "." + nvrtcMinor, options, KernelCache.defaultDir());
        modules = new KernelCache.Modules<>(kernelCache, cubin -> {
            bind();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment image = a.allocate(cubin.length + 1L, 16);
                MemorySegment.copy(cubin, 0, image, ValueLayout.JAVA_BYTE, 0, cubin.length);
                return cu.moduleLoadData(image);
            }
        });
    }

    /** The folder holding cuda_fp16.h for NVRTC: next to the loaded libnvrtc, then CUDA_HOME, then /usr/local/cuda. */
    private static Optional<Path> cudaIncludeDir() {
        List<Path> candidates = new ArrayList<>();
        CudaLibraries.loadedPath("libnvrtc.so").ifPresent(lib -> {
            Path dir = lib.getParent();
            candidates.add(dir.resolve("../include").normalize());
            candidates.add(dir.resolve("../../include").normalize());
        });
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) candidates.add(Path.of(v, "include"));
        }
        candidates.add(Path.of("/usr/local/cuda/include"));
        return candidates.stream().filter(p -> Files.isRegularFile(p.resolve("cuda_fp16.h"))).findFirst();
    }

    // ---------------------------------------------------------------- configuration and facts

    /** Allows TF32 tensor-core math for F32 matmul (faster, ~10-bit mantissa products); off by default. */
    public static void setAllowTf32(boolean allow) { allowTf32 = allow; }

    /** Whether F32 matmul may use TF32. */
    public static boolean allowTf32() { return allowTf32; }

    @Override public String name() { return "cuda"; }

    /** cuBLAS multiplies F16 and BF16 directly, accumulating in F32 (CUBLAS_COMPUTE_32F). */
    @Override public boolean supportsHalfMatmul() { return true; }

    @Override public String description() {
        return deviceName + " (sm_" + ccMajor + ccMinor + ", " + sms + " SMs, " + (totalMem >> 30) + " GiB)";
    }

    @Override public Map<String, String> facts() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("device", deviceName + " (ordinal " + rt.ordinal() + ")");
        f.put("compute capability", ccMajor + "." + ccMinor);
        f.put("SMs", Integer.toString(sms));
        f.put("memory", String.format(java.util.Locale.ROOT, "%.1f GiB", totalMem / (double) (1L << 30)));
        f.put("driver", "CUDA " + rt.driverVersion() / 1000 + "." + rt.driverVersion() % 1000 / 10);
        f.put("NVRTC", nvrtcMajor + "." + nvrtcMinor + " (" + nvrtc.origin() + ")");
        f.put("cuBLAS", cublasVersion + " (" + cublas.origin() + ")");
        f.put("TF32 matmul", allowTf32 ? "allowed" : "off");
        f.put("kernel cache", kernelCache.dir().toString());
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
    public int kernelCompiles() { return kernelCache.compiles(); }

    /** Makes the context current on the calling thread (once per thread). */
    public void bind() {
        if (!ctxBound.get()) {
            cu.ctxSetCurrent(ctx);
            ctxBound.set(true);
        }
    }

    // ---------------------------------------------------------------- memory

    @Override public Storage allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        bind();
        return new CudaStorage(this, allocator, allocator.allocate(bytes, stream), bytes);
    }

    @Override public void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {
        long d = devicePtr(dst, dstByteOffset, bytes, "copyFromHost");
        if (bytes > src.byteSize()) throw new IndexOutOfBoundsException("copyFromHost of " + bytes + " bytes from a host segment of " + src.byteSize());
        if (bytes == 0) return;
        bind();
        if (src.isNative()) {
            // Pageable memory is staged by the driver before the call returns, so src may be reused at once.
            cu.memcpyHtoDAsync(d, src, bytes, stream);
            return;
        }
        synchronized (stagingLock) {
            MemorySegment st = staging();
            for (long done = 0; done < bytes; done += STAGING_BYTES) {
                long n = Math.min(STAGING_BYTES, bytes - done);
                cu.streamSynchronize(stream); // the previous chunk has left the staging buffer
                MemorySegment.copy(src, done, st, 0, n);
                cu.memcpyHtoDAsync(d + done, st, n, stream);
            }
            cu.streamSynchronize(stream);
        }
    }

    @Override public void copyToHost(Storage src, long srcByteOffset, MemorySegment dst, long bytes) {
        long s = devicePtr(src, srcByteOffset, bytes, "copyToHost");
        if (bytes > dst.byteSize()) throw new IndexOutOfBoundsException("copyToHost of " + bytes + " bytes into a host segment of " + dst.byteSize());
        bind();
        if (bytes == 0) { cu.streamSynchronize(stream); return; }
        if (dst.isNative()) {
            cu.memcpyDtoHAsync(dst, s, bytes, stream);
            cu.streamSynchronize(stream);
            return;
        }
        synchronized (stagingLock) {
            MemorySegment st = staging();
            for (long done = 0; done < bytes; done += STAGING_BYTES) {
                long n = Math.min(STAGING_BYTES, bytes - done);
                cu.memcpyDtoHAsync(st, s + done, n, stream);
                cu.streamSynchronize(stream);
                MemorySegment.copy(st, 0, dst, done, n);
            }
        }
    }

    private MemorySegment staging() {
        if (staging == null) staging = cu.memAllocHost(STAGING_BYTES);
        return staging;
    }

    @Override public long allocatedBytes() { return allocator.requestedBytes(); }

    @Override public void synchronize() {
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

    // ---------------------------------------------------------------- matmul

    @Override public void matmul(Gemm g) {
        DType dt = g.dtype();
        if (!dt.isFloating()) throw new IllegalArgumentException("matmul takes F32, F64, F16 or BF16, not " + dt);
        if (g.batch() == 0 || g.m() == 0 || g.n() == 0) return;
        bind();
        int es = dt.byteSize();
        long cPtr = storagePtr(g.c()) + g.cOffset() * es;
        int ldc = g.m() == 1 ? Math.max(g.n(), 1) : toInt(g.cRowStride(), "ldc");
        if (ldc < Math.max(1, g.n())) throw new IllegalArgumentException("matmul: c row stride " + g.cRowStride() + " < n=" + g.n());
        if (g.batch() > 1 && g.cBatchStride() < (long) (g.m() - 1) * ldc + g.n())
            throw new IllegalArgumentException("matmul: c batch stride " + g.cBatchStride() + " makes batches overlap");
        if (g.k() == 0) {
            zeroC(g, cPtr, ldc, es);
            return;
        }
        List<Storage> temps = new ArrayList<>();
        try {
            // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS's first operand is our B.
            Operand b = operand(g.b(), g.bOffset(), g.bBatchStride(), g.bRowStride(), g.bColStride(), g.k(), g.n(), g.batch(), dt, temps);
            Operand a = operand(g.a(), g.aOffset(), g.aBatchStride(), g.aRowStride(), g.aColStride(), g.m(), g.k(), g.batch(), dt, temps);
            int type = switch (dt) {
                case F32 -> Cublas.R_32F;
                case F64 -> Cublas.R_64F;
                case F16 -> Cublas.R_16F;
                case BF16 -> Cublas.R_16BF;
                default -> throw new AssertionError(dt);
            };
            int compute;
            MemorySegment alpha, beta;
            if (dt == DType.F64) {
                compute = Cublas.COMPUTE_64F;
                alpha = scalars.asSlice(8, 8);
                beta = scalars.asSlice(16, 8);
            } else {
                compute = dt == DType.F32 && allowTf32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
                alpha = scalars.asSlice(0, 4);
                beta = scalars.asSlice(4, 4);
            }
            cublas.setMathMode(cublasHandle, dt == DType.F32 && allowTf32 ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
            cublas.gemmStridedBatchedEx(cublasHandle, b.op, a.op, g.n(), g.m(), g.k(), alpha,
                    b.ptr, type, b.ld, b.batchStride, a.ptr, type, a.ld, a.batchStride, beta,
                    cPtr, type, ldc, g.cBatchStride(), g.batch(), compute, Cublas.GEMM_DEFAULT);
        } finally {
            for (Storage s : temps) s.release(); // stream-ordered: the block is reused only by later work
        }
    }

    /** A matmul operand as cuBLAS sees it: pointer, op (N or T), leading dimension and batch stride. */
    private record Operand(long ptr, int op, int ld, long batchStride) {}

    /**
     * Maps a row-major {@code rows x cols} operand to cuBLAS: with unit column stride it is the
     * column-major transpose (op N, ld = row stride); with unit row stride it is the column-major
     * matrix itself (op T, ld = column stride); anything else is first copied to a contiguous buffer.
     */
    private Operand operand(Storage st, long offset, long batchStride, long rs, long cs, int rows, int cols, int batch,
                            DType dt, List<Storage> temps) {
        int es = dt.byteSize();
        long base = storagePtr(st) + offset * es;
        long bs = batch == 1 ? 0 : batchStride;
        if (cols == 1 || cs == 1) {
            long ld = rows == 1 ? Math.max(cols, 1) : rs;
            if (ld >= Math.max(1, cols) && ld <= Integer.MAX_VALUE) return new Operand(base, Cublas.OP_N, (int) ld, bs);
        }
        if (rows == 1 || rs == 1) {
            long ld = cols == 1 ? Math.max(rows, 1) : cs;
            if (ld >= Math.max(1, rows) && ld <= Integer.MAX_VALUE) return new Operand(base, Cublas.OP_T, (int) ld, bs);
        }
        // Not a transpose of a contiguous matrix: materialize [batch, rows, cols] contiguously.
        int nb = bs == 0 ? 1 : batch;
        Storage tmp = allocate((long) nb * rows * cols * es);
        temps.add(tmp);
        Strided src = new Strided(st, dt, offset, new long[] {nb, rows, cols}, new long[] {bs, rs, cs});
        copy(src, Strided.contiguous(tmp, dt, 0, nb, rows, cols));
        return new Operand(storagePtr(tmp), Cublas.OP_N, Math.max(cols, 1), bs == 0 ? 0 : (long) rows * cols);
    }

    private void zeroC(Gemm g, long cPtr, int ldc, int es) {
        for (int bi = 0; bi < g.batch(); bi++)
            for (int r = 0; r < g.m(); r++)
                cu.memsetD8Async(cPtr + ((long) bi * g.cBatchStride() + (long) r * ldc) * es, (byte) 0, (long) g.n() * es, stream);
    }

    // ---------------------------------------------------------------- launching

    private MemorySegment function(String file, String kernel) {
        return functions.computeIfAbsent(file + ":" + kernel, k -> cu.moduleGetFunction(modules.get(file), kernel));
    }

    /** Grid-stride launch over {@code work} items. */
    private void launch(String file, String kernel, long work, LaunchArgs a) {
        long blocks = Math.clamp(Math.ceilDiv(Math.max(work, 1), BLOCK), 1, (long) sms * 32);
        cu.launchKernel(function(file, kernel), kernel, (int) blocks, 1, 1, BLOCK, 1, 1, 0, stream, a.params());
    }

    /** An explicit grid of {@code blocks} blocks of {@code threads} threads. */
    void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a) {
        cu.launchKernel(function(file, kernel), kernel, blocks, 1, 1, threads, 1, 1, 0, stream, a.params());
    }

    /** Streaming multiprocessors on the device (grid sizing). */
    int multiprocessors() { return sms; }

    /** One block per row (rows beyond the grid are looped over inside the kernel). */
    private void launchBlocks(String file, String kernel, long rows, LaunchArgs a) {
        long blocks = Math.clamp(rows, 1, (long) sms * 64);
        cu.launchKernel(function(file, kernel), kernel, (int) blocks, 1, 1, BLOCK, 1, 1, 0, stream, a.params());
    }

    // ---------------------------------------------------------------- checks and helpers

    private long storagePtr(Storage s) {
        if (!(s instanceof CudaStorage cs) || cs.backend() != this)
            throw new IllegalArgumentException("operand lives on backend '" + s.backend().name() + "', not on this CUDA backend");
        return cs.ptr();
    }

    private long ptr(Strided s) {
        return storagePtr(s.storage()) + s.offset() * s.dtype().byteSize();
    }

    /** The device address of a view's first element; fails when it lives elsewhere. */
    long pointer(Strided s) { return ptr(s); }

    private long devicePtr(Storage s, long offset, long bytes, String what) {
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

    private static int toInt(long v, String what) {
        if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("matmul: " + what + " " + v + " does not fit cuBLAS's int");
        return (int) v;
    }
}
