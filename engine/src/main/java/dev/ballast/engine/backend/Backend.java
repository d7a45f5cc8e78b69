package dev.ballast.engine.backend;

import dev.ballast.engine.DType;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Optional;

/**
 * The small set of primitives every backend implements; everything else in the engine is composed
 * from them. Operands arrive as {@link Strided} views; outputs are always contiguous views the engine
 * allocated. Elementwise and reduction primitives are called with F32, F64, I32 or I64 operands
 * (F16 and BF16 are cast to F32 by the engine first) unless {@link #supportsHalfCompute()} says
 * otherwise. Primitives may run asynchronously; {@link #synchronize()} waits for all of them, and
 * every transfer to the host waits for the work that produced its data.
 */
public interface Backend {

    /** Short name: "cpu", "cuda". */
    String name();

    /** A one-line description of the hardware ("2 threads, AVX-512", "NVIDIA H100 80GB HBM3"). */
    String description();

    /** Facts for {@code ballast doctor}, one entry per line, in display order. */
    Map<String, String> facts();

    /** Whether elementwise/reduction primitives accept F16 and BF16 operands directly. */
    default boolean supportsHalfCompute() { return false; }

    /**
     * The fused multi-tensor kernels (gradient norm, clip coefficient, scaling, Adam and SGD steps) when this backend
     * has them; empty (the default) makes the stability layer and optimizers compose the same semantics from primitives.
     * A capability object rather than an interface the backend implements, so a backend seen through a wrapper or a
     * proxy keeps or drops it explicitly.
     */
    default Optional<MultiTensorOps> multiTensorOps() { return Optional.empty(); }

    /**
     * Fused recurrent cells (one LSTM or RNN time step per kernel, forward and backward) when this backend has them;
     * empty (the default) makes RNN and LSTM layers run as the unrolled graph of elementwise ops.
     */
    default Optional<FusedCells> fusedCells() { return Optional.empty(); }

    /**
     * Whole recurrent layers per call (the time loop inside the backend, the recurrent weight packed once per layer)
     * when this backend has them; empty (the default) makes the fused RNN and LSTM layers loop over time steps
     * through {@link #fusedCells()}.
     */
    default Optional<FusedRecurrentLayers> fusedRecurrentLayers() { return Optional.empty(); }

    /**
     * Fused activation gradients (GELU's in one pass) when this backend has them; empty (the default) makes autograd
     * compose them from elementwise ops.
     */
    default Optional<FusedActivations> fusedActivations() { return Optional.empty(); }

    /**
     * Fused layer normalization (one pass per row forward and backward, saved row statistics) when this backend has
     * it; empty (the default) makes LayerNorm compose it from reductions and elementwise ops.
     */
    default Optional<FusedNorms> fusedNorms() { return Optional.empty(); }

    /**
     * Fused multi-head self-attention (heads read from the packed q/k/v projection, scaled and masked softmax and
     * both products in one kernel per direction) when this backend has it; empty (the default) makes
     * MultiHeadSelfAttention compose it from views, batched products and a softmax.
     */
    default Optional<FusedAttention> fusedAttention() { return Optional.empty(); }

    /** Whether {@link #matmul} accepts F16 and BF16 operands (accumulating in F32); otherwise the engine casts to F32. */
    default boolean supportsHalfMatmul() { return false; }

    // ---- memory ----

    /** Allocates {@code bytes} of uninitialized memory. */
    Storage allocate(long bytes);

    /** Copies {@code bytes} from host memory into {@code dst} at a byte offset. */
    void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes);

    /** Copies {@code bytes} from {@code src} at a byte offset into host memory, waiting for pending work. */
    void copyToHost(Storage src, long srcByteOffset, MemorySegment dst, long bytes);

    /** Bytes currently allocated by this backend and not yet freed. */
    long allocatedBytes();

    /** Waits until all work queued on this backend is done. */
    void synchronize();

    // ---- data movement ----

    /**
     * Copies the elements of {@code src}, in row-major order of its shape, into {@code dst}; dtypes may differ (a
     * cast). {@code dst} is contiguous, or, when {@link #supportsStridedCopyDestination()} and the shapes are equal,
     * any non-overlapping strided view (a write into a slice).
     */
    void copy(Strided src, Strided dst);

    /** Whether {@link #copy} writes through a strided destination of the source's shape. */
    default boolean supportsStridedCopyDestination() { return false; }

    /** Sets every element of contiguous {@code dst} to {@code value} converted to its dtype. */
    void fill(Strided dst, double value);

    /** Fills contiguous F32 or F64 {@code dst} from the Philox 4x32-10 stream for {@code seed}, starting at counter {@code offset}. */
    void random(RandomKind kind, long seed, long offset, Strided dst);

    // ---- compute ----

    /** {@code out = op(x)}; {@code x} has out's shape (possibly with zero strides). */
    void unary(UnaryOp op, Strided x, Strided out);

    /** {@code out = op(a, b)}; {@code a} and {@code b} already have out's shape through zero strides. */
    void binary(BinaryOp op, Strided a, Strided b, Strided out);

    /** {@code out = op(x, scalar)}, or {@code op(scalar, x)} when {@code scalarFirst}. */
    void binaryScalar(BinaryOp op, Strided x, double scalar, boolean scalarFirst, Strided out);

    /** {@code out = cond != 0 ? a : b}; all three already have out's shape; {@code cond} may have another dtype. */
    void where(Strided cond, Strided a, Strided b, Strided out);

    /**
     * Reduces contiguous {@code x} viewed as {@code [outer, n, inner]} over the middle axis into
     * contiguous {@code out} of {@code outer * inner} elements.
     */
    void reduce(ReduceOp op, Strided x, long outer, long n, long inner, Strided out);

    /** Batched matrix product, see {@link Gemm}. */
    void matmul(Gemm gemm);

    /** Softmax (or log-softmax) of each length-{@code n} row of contiguous {@code x} into {@code out}, numerically stable. */
    void softmax(Strided x, long rows, long n, boolean log, Strided out);

    /**
     * {@code out[o, j, i] = x[o, index[j], i]} for contiguous {@code x} viewed as {@code [outer, n, inner]},
     * contiguous I64 {@code index} of {@code m} entries, each in {@code [0, n)}, and out {@code [outer, m, inner]}.
     */
    void indexSelect(Strided x, long outer, long n, long inner, Strided index, Strided out);

    /**
     * The adjoint of {@link #indexSelect}: {@code out[o, index[j], i] += src[o, j, i]}, with
     * contiguous {@code out} viewed as {@code [outer, n, inner]}. Repeated indices accumulate in index order.
     */
    void indexAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n);

    /**
     * {@code out[o, j, i] = x[o, index[o, j, i], i]} (torch.gather along the middle axis):
     * {@code x} is {@code [outer, n, inner]}, index and out are {@code [outer, m, inner]}, all contiguous.
     */
    void gather(Strided x, long outer, long n, long inner, Strided index, long m, Strided out);

    /** The adjoint of {@link #gather}: {@code out[o, index[o, j, i], i] += src[o, j, i]}. */
    void scatterAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n);
}
