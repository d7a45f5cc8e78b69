package dev.ballast.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.ballast.cuda.CudaException;
import dev.ballast.cuda.CudaLibraries;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver API functions Ballast uses, bound through {@code java.lang.foreign}: one
 * {@link MethodHandle} per C function, each wrapper checking the returned {@code CUresult} and
 * throwing {@link CudaException} with the call's name and {@code cuGetErrorName}'s name.
 * Types follow {@code cuda.h}: handles (CUcontext, CUstream, CUevent, CUmodule, CUfunction, CUgraph,
 * CUgraphExec) are pointers, {@code CUdeviceptr} is an unsigned 64-bit integer held in a {@code long},
 * {@code CUdevice} and enums are {@code int}, {@code size_t} is {@code long}.
 */
public final class CudaDriver {
    /** {@code CU_STREAM_NON_BLOCKING}. */
    public static final int STREAM_NON_BLOCKING = 0x1;
    /** {@code CU_EVENT_DEFAULT}. */
    public static final int EVENT_DEFAULT = 0x0;
    /** {@code CU_STREAM_CAPTURE_MODE_THREAD_LOCAL}. */
    public static final int CAPTURE_MODE_THREAD_LOCAL = 1;
    /** {@code CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT}. */
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    /** {@code CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR}. */
    public static final int ATTR_CC_MAJOR = 75;
    /** {@code CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR}. */
    public static final int ATTR_CC_MINOR = 76;
    /** {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public static final int ERROR_OUT_OF_MEMORY = 2;

    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGet, cuDeviceGetCount, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent,
            cuStreamCreate, cuStreamSynchronize, cuStreamDestroy, cuEventCreate, cuEventRecord,
            cuEventSynchronize, cuEventElapsedTime, cuEventDestroy, cuMemAlloc, cuMemFree, cuMemAllocHost,
            cuMemFreeHost, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD8Async,
            cuModuleLoadData, cuModuleGetFunction, cuModuleUnload, cuLaunchKernel, cuGetErrorName,
            cuMemGetInfo, cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiateWithFlags,
            cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy;

    /** Binds every function from a loaded {@code libcuda.so.1}; fails with the missing symbol's name. */
    public CudaDriver(CudaLibraries.Loaded lib) {
        // CUresult cuInit(unsigned int Flags)
        cuInit = b(lib, "cuInit", JAVA_INT);
        // CUresult cuDriverGetVersion(int *driverVersion)
        cuDriverGetVersion = b(lib, "cuDriverGetVersion", ADDRESS);
        // CUresult cuDeviceGet(CUdevice *device, int ordinal)
        cuDeviceGet = b(lib, "cuDeviceGet", ADDRESS, JAVA_INT);
        // CUresult cuDeviceGetCount(int *count)
        cuDeviceGetCount = b(lib, "cuDeviceGetCount", ADDRESS);
        // CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
        cuDeviceGetName = b(lib, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        // CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
        cuDeviceGetAttribute = b(lib, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        // CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
        cuDeviceTotalMem = b(lib, "cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        // CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
        cuDevicePrimaryCtxRetain = b(lib, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        // CUresult cuCtxSetCurrent(CUcontext ctx)
        cuCtxSetCurrent = b(lib, "cuCtxSetCurrent", ADDRESS);
        // CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
        cuStreamCreate = b(lib, "cuStreamCreate", ADDRESS, JAVA_INT);
        // CUresult cuStreamSynchronize(CUstream hStream)
        cuStreamSynchronize = b(lib, "cuStreamSynchronize", ADDRESS);
        // CUresult cuStreamDestroy_v2(CUstream hStream)
        cuStreamDestroy = b(lib, "cuStreamDestroy_v2", ADDRESS);
        // CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
        cuEventCreate = b(lib, "cuEventCreate", ADDRESS, JAVA_INT);
        // CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
        cuEventRecord = b(lib, "cuEventRecord", ADDRESS, ADDRESS);
        // CUresult cuEventSynchronize(CUevent hEvent)
        cuEventSynchronize = b(lib, "cuEventSynchronize", ADDRESS);
        // CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd); CUDA 13's
        // header maps the name to cuEventElapsedTime_v2 (same prototype); older drivers only have v1.
        FunctionDescriptor elapsed = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        cuEventElapsedTime = CudaLibraries.bindOptional(lib, "cuEventElapsedTime_v2", elapsed)
                .orElseGet(() -> CudaLibraries.bind(lib, "cuEventElapsedTime", elapsed));
        // CUresult cuEventDestroy_v2(CUevent hEvent)
        cuEventDestroy = b(lib, "cuEventDestroy_v2", ADDRESS);
        // CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
        cuMemAlloc = b(lib, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        // CUresult cuMemFree_v2(CUdeviceptr dptr)
        cuMemFree = b(lib, "cuMemFree_v2", JAVA_LONG);
        // CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
        cuMemAllocHost = b(lib, "cuMemAllocHost_v2", ADDRESS, JAVA_LONG);
        // CUresult cuMemFreeHost(void *p)
        cuMemFreeHost = b(lib, "cuMemFreeHost", ADDRESS);
        // CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
        cuMemcpyHtoDAsync = b(lib, "cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        // CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
        cuMemcpyDtoHAsync = b(lib, "cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
        // CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
        cuMemcpyDtoDAsync = b(lib, "cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
        // CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
        cuMemsetD8Async = b(lib, "cuMemsetD8Async", JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS);
        // CUresult cuModuleLoadData(CUmodule *module, const void *image)
        cuModuleLoadData = b(lib, "cuModuleLoadData", ADDRESS, ADDRESS);
        // CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
        cuModuleGetFunction = b(lib, "cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        // CUresult cuModuleUnload(CUmodule hmod)
        cuModuleUnload = b(lib, "cuModuleUnload", ADDRESS);
        // CUresult cuLaunchKernel(CUfunction f, unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY,
        //     blockDimZ, unsigned sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
        cuLaunchKernel = b(lib, "cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        // CUresult cuGetErrorName(CUresult error, const char **pStr)
        cuGetErrorName = b(lib, "cuGetErrorName", JAVA_INT, ADDRESS);
        // CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
        cuMemGetInfo = b(lib, "cuMemGetInfo_v2", ADDRESS, ADDRESS);
        // CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
        cuStreamBeginCapture = b(lib, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
        // CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
        cuStreamEndCapture = b(lib, "cuStreamEndCapture", ADDRESS, ADDRESS);
        // CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)
        cuGraphInstantiateWithFlags = b(lib, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
        // CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
        cuGraphLaunch = b(lib, "cuGraphLaunch", ADDRESS, ADDRESS);
        // CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
        cuGraphExecDestroy = b(lib, "cuGraphExecDestroy", ADDRESS);
        // CUresult cuGraphDestroy(CUgraph hGraph)
        cuGraphDestroy = b(lib, "cuGraphDestroy", ADDRESS);
    }

    private volatile MemorySegment context;
    private final ThreadLocal<MemorySegment> platformBound = new ThreadLocal<>();

    private static MethodHandle b(CudaLibraries.Loaded lib, String name, java.lang.foreign.MemoryLayout... args) {
        return CudaLibraries.bind(lib, name, FunctionDescriptor.of(JAVA_INT, args));
    }

    // ---- status handling ----

    /** {@code cuGetErrorName}'s name for a status, or {@code CUDA_ERROR_<n>} when the driver does not know it. */
    public String errorName(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) cuGetErrorName.invokeExact(status, p);
            MemorySegment s = p.get(ADDRESS, 0);
            if (r != 0 || s.equals(MemorySegment.NULL)) return "CUDA_ERROR_" + status;
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUDA_ERROR_" + status;
        }
    }

    private void check(int status, String call) { check(status, call, null); }

    private void check(int status, String call, String detail) {
        if (status != 0) throw new CudaException(call, status, errorName(status), detail);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    // ---- initialization and devices ----

    /** {@code cuInit(flags)}; flags must be 0. */
    public void init(int flags) {
        try { check((int) cuInit.invokeExact(flags), "cuInit"); } catch (Throwable t) { throw rethrow(t); }
    }

    /** The driver's CUDA version, e.g. 13000 for 13.0. */
    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) cuDriverGetVersion.invokeExact(v), "cuDriverGetVersion");
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** Number of CUDA devices. */
    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) cuDeviceGetCount.invokeExact(v), "cuDeviceGetCount");
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** The device handle for an ordinal. */
    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) cuDeviceGet.invokeExact(v, ordinal), "cuDeviceGet");
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** The device's marketing name. */
    public String deviceName(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check((int) cuDeviceGetName.invokeExact(buf, 256, dev), "cuDeviceGetName");
            return buf.getString(0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** A {@code CU_DEVICE_ATTRIBUTE_*} value. */
    public int deviceAttribute(int attribute, int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) cuDeviceGetAttribute.invokeExact(v, attribute, dev), "cuDeviceGetAttribute");
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** Total device memory in bytes. */
    public long deviceTotalMem(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check((int) cuDeviceTotalMem.invokeExact(v, dev), "cuDeviceTotalMem_v2");
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** Retains the device's primary context. */
    public MemorySegment primaryCtxRetain(int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuDevicePrimaryCtxRetain.invokeExact(v, dev), "cuDevicePrimaryCtxRetain");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** Makes a context current on the calling thread. */
    public void ctxSetCurrent(MemorySegment ctx) {
        try { check((int) cuCtxSetCurrent.invokeExact(ctx), "cuCtxSetCurrent"); } catch (Throwable t) { throw rethrow(t); }
    }

    /**
     * Names the context every later call of this binding works in: each call that needs a current context
     * makes it current on the calling OS thread first. The current context is per OS thread, and a virtual
     * thread moves between OS threads at every blocking point, so for a virtual thread this is done on each
     * call (cheap: the driver only swaps a thread-local); a platform thread does it once.
     */
    public void useContext(MemorySegment ctx) {
        this.context = ctx;
        ctxSetCurrent(ctx);
    }

    /** The context named by {@link #useContext}, or null. */
    public MemorySegment context() { return context; }

    /** Makes the context of {@link #useContext} current on this OS thread where it may not be (see there). */
    public void bound() {
        MemorySegment c = context;
        if (c == null) return;
        Thread t = Thread.currentThread();
        if (t.isVirtual()) {
            ctxSetCurrent(c); // nothing blocks between here and the caller's driver call, so the carrier stays
            return;
        }
        if (platformBound.get() != c) {
            ctxSetCurrent(c);
            platformBound.set(c);
        }
    }

    /** {free, total} device memory in bytes for the current context's device. */
    public long[] memGetInfo() {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), tot = a.allocate(JAVA_LONG);
            check((int) cuMemGetInfo.invokeExact(f, tot), "cuMemGetInfo_v2");
            return new long[] {f.get(JAVA_LONG, 0), tot.get(JAVA_LONG, 0)};
        } catch (Throwable t) { throw rethrow(t); }
    }

    // ---- streams and events ----

    public MemorySegment streamCreate(int flags) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuStreamCreate.invokeExact(v, flags), "cuStreamCreate");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void streamSynchronize(MemorySegment stream) {
        bound();
        try { check((int) cuStreamSynchronize.invokeExact(stream), "cuStreamSynchronize"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void streamDestroy(MemorySegment stream) {
        bound();
        try { check((int) cuStreamDestroy.invokeExact(stream), "cuStreamDestroy_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    public MemorySegment eventCreate(int flags) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuEventCreate.invokeExact(v, flags), "cuEventCreate");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        bound();
        try { check((int) cuEventRecord.invokeExact(event, stream), "cuEventRecord"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void eventSynchronize(MemorySegment event) {
        bound();
        try { check((int) cuEventSynchronize.invokeExact(event), "cuEventSynchronize"); } catch (Throwable t) { throw rethrow(t); }
    }

    /** Milliseconds between two recorded events. */
    public float eventElapsedTime(MemorySegment start, MemorySegment end) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_FLOAT);
            check((int) cuEventElapsedTime.invokeExact(v, start, end), "cuEventElapsedTime");
            return v.get(JAVA_FLOAT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void eventDestroy(MemorySegment event) {
        bound();
        try { check((int) cuEventDestroy.invokeExact(event), "cuEventDestroy_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    // ---- memory ----

    /** Allocates device memory; the {@link CudaException} for a failure has status {@link #ERROR_OUT_OF_MEMORY} when memory ran out. */
    public long memAlloc(long bytes) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check((int) cuMemAlloc.invokeExact(v, bytes), "cuMemAlloc_v2", bytes + " bytes");
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void memFree(long dptr) {
        bound();
        try { check((int) cuMemFree.invokeExact(dptr), "cuMemFree_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    /** Allocates page-locked host memory, returned as a segment of {@code bytes}. */
    public MemorySegment memAllocHost(long bytes) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuMemAllocHost.invokeExact(v, bytes), "cuMemAllocHost_v2", bytes + " bytes");
            return v.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void memFreeHost(MemorySegment p) {
        bound();
        try { check((int) cuMemFreeHost.invokeExact(p), "cuMemFreeHost"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        bound();
        try { check((int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        bound();
        try { check((int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        bound();
        try { check((int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void memsetD8Async(long dst, byte value, long count, MemorySegment stream) {
        bound();
        try { check((int) cuMemsetD8Async.invokeExact(dst, value, count, stream), "cuMemsetD8Async"); } catch (Throwable t) { throw rethrow(t); }
    }

    // ---- modules and launches ----

    /** Loads a cubin (or PTX) image held in native memory. */
    public MemorySegment moduleLoadData(MemorySegment image) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuModuleLoadData.invokeExact(v, image), "cuModuleLoadData");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuModuleGetFunction.invokeExact(v, module, a.allocateFrom(name)), "cuModuleGetFunction", name);
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void moduleUnload(MemorySegment module) {
        bound();
        try { check((int) cuModuleUnload.invokeExact(module), "cuModuleUnload"); } catch (Throwable t) { throw rethrow(t); }
    }

    /**
     * Launches a kernel. {@code params} is a {@code void*[]} with one pointer per kernel argument,
     * each pointing at the argument's value; the driver copies them before returning.
     */
    public void launchKernel(MemorySegment function, String kernelName, int gridX, int gridY, int gridZ,
                             int blockX, int blockY, int blockZ, int sharedBytes, MemorySegment stream,
                             MemorySegment params) {
        bound();
        int r;
        try {
            r = (int) cuLaunchKernel.invokeExact(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedBytes, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
        if (r != 0) check(r, "cuLaunchKernel", "kernel " + kernelName + " grid (" + gridX + "," + gridY + "," + gridZ
                + ") block (" + blockX + "," + blockY + "," + blockZ + ")");
    }

    // ---- graphs ----

    public void streamBeginCapture(MemorySegment stream, int mode) {
        bound();
        try { check((int) cuStreamBeginCapture.invokeExact(stream, mode), "cuStreamBeginCapture_v2"); } catch (Throwable t) { throw rethrow(t); }
    }

    public MemorySegment streamEndCapture(MemorySegment stream) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuStreamEndCapture.invokeExact(stream, v), "cuStreamEndCapture");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public MemorySegment graphInstantiate(MemorySegment graph, long flags) {
        bound();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check((int) cuGraphInstantiateWithFlags.invokeExact(v, graph, flags), "cuGraphInstantiateWithFlags");
            return v.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void graphLaunch(MemorySegment exec, MemorySegment stream) {
        bound();
        try { check((int) cuGraphLaunch.invokeExact(exec, stream), "cuGraphLaunch"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void graphExecDestroy(MemorySegment exec) {
        bound();
        try { check((int) cuGraphExecDestroy.invokeExact(exec), "cuGraphExecDestroy"); } catch (Throwable t) { throw rethrow(t); }
    }

    public void graphDestroy(MemorySegment graph) {
        bound();
        try { check((int) cuGraphDestroy.invokeExact(graph), "cuGraphDestroy"); } catch (Throwable t) { throw rethrow(t); }
    }
}
