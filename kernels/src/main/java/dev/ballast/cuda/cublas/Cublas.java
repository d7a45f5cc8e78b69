package dev.ballast.cuda.cublas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.ballast.cuda.CudaException;
import dev.ballast.cuda.CudaLibraries;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The cuBLAS functions Ballast uses, bound through {@code java.lang.foreign}. cuBLAS is column-major;
 * the row-major mapping lives in the backend. Every {@code cublasStatus_t} is checked and turned into
 * a {@link CudaException} named like {@code CUBLAS_STATUS_INVALID_VALUE}.
 */
public final class Cublas {
    /** {@code cublasOperation_t}. */
    public static final int OP_N = 0, OP_T = 1;
    /** {@code cudaDataType}. */
    public static final int R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14;
    /** {@code cublasComputeType_t}. */
    public static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77, COMPUTE_64F = 70;
    /** {@code cublasMath_t}. */
    public static final int DEFAULT_MATH = 0, TF32_TENSOR_OP_MATH = 3;
    /** {@code CUBLAS_GEMM_DEFAULT}. */
    public static final int GEMM_DEFAULT = -1;

    private final MethodHandle cublasCreate, cublasDestroy, cublasSetStream, cublasGetVersion, cublasSetMathMode,
            cublasGemmStridedBatchedEx, cublasGemmEx, cublasSetWorkspace;
    private final String origin;

    /** Binds the functions from a loaded {@code libcublas.so.N}. */
    public Cublas(CudaLibraries.Loaded lib) {
        origin = lib.origin();
        // cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
        cublasCreate = b(lib, "cublasCreate_v2", ADDRESS);
        // cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
        cublasDestroy = b(lib, "cublasDestroy_v2", ADDRESS);
        // cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
        cublasSetStream = b(lib, "cublasSetStream_v2", ADDRESS, ADDRESS);
        // cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes)
        cublasSetWorkspace = b(lib, "cublasSetWorkspace_v2", ADDRESS, ADDRESS, JAVA_LONG);
        // cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version)
        cublasGetVersion = b(lib, "cublasGetVersion_v2", ADDRESS, ADDRESS);
        // cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
        cublasSetMathMode = b(lib, "cublasSetMathMode", ADDRESS, JAVA_INT);
        // cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
        //     int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda,
        //     const void *B, cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
        //     cublasComputeType_t computeType, cublasGemmAlgo_t algo)
        cublasGemmEx = b(lib, "cublasGemmEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        // cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
        //     cublasOperation_t transb, int m, int n, int k, const void *alpha,
        //     const void *A, cudaDataType Atype, int lda, long long int strideA,
        //     const void *B, cudaDataType Btype, int ldb, long long int strideB, const void *beta,
        //     void *C, cudaDataType Ctype, int ldc, long long int strideC, int batchCount,
        //     cublasComputeType_t computeType, cublasGemmAlgo_t algo)
        cublasGemmStridedBatchedEx = b(lib, "cublasGemmStridedBatchedEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);
    }

    private static MethodHandle b(CudaLibraries.Loaded lib, String name, java.lang.foreign.MemoryLayout... args) {
        return CudaLibraries.bind(lib, name, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Where the library was loaded from. */
    public String origin() { return origin; }

    /** The {@code cublasStatus_t} name for a status. */
    public static String statusName(int s) {
        return switch (s) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "CUBLAS_STATUS_" + s;
        };
    }

    private static void check(int status, String call, String detail) {
        if (status != 0) throw new CudaException(call, status, statusName(status), detail);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** Creates a handle (for the current context). */
    public MemorySegment create() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check((int) cublasCreate.invokeExact(h), "cublasCreate_v2", null);
            return h.get(ADDRESS, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void destroy(MemorySegment handle) {
        try { check((int) cublasDestroy.invokeExact(handle), "cublasDestroy_v2", null); } catch (Throwable t) { throw rethrow(t); }
    }

    public void setStream(MemorySegment handle, MemorySegment stream) {
        try { check((int) cublasSetStream.invokeExact(handle, stream), "cublasSetStream_v2", null); } catch (Throwable t) { throw rethrow(t); }
    }

    /**
     * Gives the handle a workspace of device memory that it uses instead of allocating its own: needed for a
     * GEMM inside a CUDA graph capture, where cuBLAS may not allocate. Call again after every setStream
     * (which resets it to the default).
     */
    public void setWorkspace(MemorySegment handle, long devicePtr, long bytes) {
        try {
            check((int) cublasSetWorkspace.invokeExact(handle, MemorySegment.ofAddress(devicePtr), bytes), "cublasSetWorkspace_v2",
                    bytes + " bytes");
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** cuBLAS's version number, e.g. 130000 for 13.0.0. */
    public int version(MemorySegment handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) cublasGetVersion.invokeExact(handle, v), "cublasGetVersion_v2", null);
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    public void setMathMode(MemorySegment handle, int mode) {
        try { check((int) cublasSetMathMode.invokeExact(handle, mode), "cublasSetMathMode", null); } catch (Throwable t) { throw rethrow(t); }
    }

    /** Column-major {@code C = alpha op(A) op(B) + beta C}; alpha and beta point at host scalars of the compute type. */
    public void gemmEx(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha,
                       long a, int aType, int lda, long b, int bType, int ldb, MemorySegment beta,
                       long c, int cType, int ldc, int computeType, int algo) {
        try {
            int r = (int) cublasGemmEx.invokeExact(handle, transa, transb, m, n, k, alpha, MemorySegment.ofAddress(a), aType, lda,
                    MemorySegment.ofAddress(b), bType, ldb, beta, MemorySegment.ofAddress(c), cType, ldc, computeType, algo);
            if (r != 0) check(r, "cublasGemmEx", "m=" + m + " n=" + n + " k=" + k + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** Strided-batched column-major GEMM; see {@link #gemmEx}. */
    public void gemmStridedBatchedEx(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha,
                                     long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                     MemorySegment beta, long c, int cType, int ldc, long strideC, int batch,
                                     int computeType, int algo) {
        try {
            int r = (int) cublasGemmStridedBatchedEx.invokeExact(handle, transa, transb, m, n, k, alpha,
                    MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb, strideB,
                    beta, MemorySegment.ofAddress(c), cType, ldc, strideC, batch, computeType, algo);
            if (r != 0) check(r, "cublasGemmStridedBatchedEx", "m=" + m + " n=" + n + " k=" + k + " batch=" + batch + " lda=" + lda
                            + " ldb=" + ldb + " ldc=" + ldc + " trans=" + transa + "," + transb);
        } catch (Throwable t) { throw rethrow(t); }
    }
}
