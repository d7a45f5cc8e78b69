package dev.ballast.cuda;

import dev.ballast.cuda.cublas.Cublas;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Gemm;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Matmul of a {@link CudaBackend} through cuBLAS: a row-major product mapped onto column-major strided-batched
 * GEMM without copies where the layout allows (a transposed view is an op T), F32 in FP32 unless TF32 is allowed,
 * F16/BF16 accumulated in F32. The handle has its own workspace, so no GEMM allocates (graph capture forbids it).
 */
final class CudaMatmul {
    private final CudaBackend backend;
    private final CudaDevice device;
    private final Cublas cublas;
    private final MemorySegment cublasHandle;
    private final int cublasVersion;
    private final Storage workspace;
    private final MemorySegment scalars; // alpha/beta for cuBLAS: f32 1, f32 0, f64 1, f64 0

    CudaMatmul(CudaBackend backend, CudaDevice device) {
        this.backend = backend;
        this.device = device;
        cublas = new Cublas(device.rt.cublas());
        device.bind();
        cublasHandle = cublas.create();
        cublas.setStream(cublasHandle, device.stream);
        cublasVersion = cublas.version(cublasHandle);
        // 32 MiB as NVIDIA advises for Hopper and newer, 4 MiB before; after setStream, which resets it.
        workspace = backend.allocate(device.ccMajor >= 9 ? 32L << 20 : 4L << 20);
        cublas.setWorkspace(cublasHandle, ((CudaStorage) workspace).ptr(), workspace.byteSize());
        scalars = Arena.global().allocate(32, 8);
        scalars.set(ValueLayout.JAVA_FLOAT, 0, 1f);
        scalars.set(ValueLayout.JAVA_FLOAT, 4, 0f);
        scalars.set(ValueLayout.JAVA_DOUBLE, 8, 1d);
        scalars.set(ValueLayout.JAVA_DOUBLE, 16, 0d);
    }

    void facts(Map<String, String> f) {
        f.put("cuBLAS", cublasVersion + " (" + cublas.origin() + "), workspace " + (workspace.byteSize() >> 20) + " MiB");
        f.put("TF32 matmul", CudaBackend.allowTf32() ? "allowed" : "off");
    }

    void matmul(Gemm g) {
        DType dt = g.dtype();
        if (!dt.isFloating()) throw new IllegalArgumentException("matmul takes F32, F64, F16 or BF16, not " + dt);
        if (g.batch() == 0 || g.m() == 0 || g.n() == 0) return;
        device.bind(); // cuBLAS does not bind the context itself
        int es = dt.byteSize();
        long cPtr = backend.storagePtr(g.c()) + g.cOffset() * es;
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
                compute = dt == DType.F32 && CudaBackend.allowTf32() ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
                alpha = scalars.asSlice(0, 4);
                beta = scalars.asSlice(4, 4);
            }
            device.bind(); // again: on a virtual thread, operand() may have parked and moved to another OS thread
            cublas.setMathMode(cublasHandle, dt == DType.F32 && CudaBackend.allowTf32() ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
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
        long base = backend.storagePtr(st) + offset * es;
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
        Storage tmp = backend.allocate((long) nb * rows * cols * es);
        temps.add(tmp);
        Strided src = new Strided(st, dt, offset, new long[] {nb, rows, cols}, new long[] {bs, rs, cs});
        backend.copy(src, Strided.contiguous(tmp, dt, 0, nb, rows, cols));
        return new Operand(backend.storagePtr(tmp), Cublas.OP_N, Math.max(cols, 1), bs == 0 ? 0 : (long) rows * cols);
    }

    private void zeroC(Gemm g, long cPtr, int ldc, int es) {
        for (int bi = 0; bi < g.batch(); bi++)
            for (int r = 0; r < g.m(); r++)
                device.cu.memsetD8Async(cPtr + ((long) bi * g.cBatchStride() + (long) r * ldc) * es, (byte) 0, (long) g.n() * es, device.stream);
    }

    private static int toInt(long v, String what) {
        if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("matmul: " + what + " " + v + " does not fit cuBLAS's int");
        return (int) v;
    }
}
