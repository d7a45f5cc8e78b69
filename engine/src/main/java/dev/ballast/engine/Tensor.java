package dev.ballast.engine;

import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.autograd.Node;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * An n-dimensional array on a {@link Device}, with reverse-mode autograd. Views (reshape of contiguous data,
 * permute, narrow, expand) share storage with their base; every other op allocates its result. Tensors are
 * {@link AutoCloseable}: {@code close()} drops this handle's reference to the storage, a {@link Scope} closes
 * every tensor made inside it, and the garbage collector is only a backstop. Using a closed tensor throws.
 * Not thread-safe.
 */
public final class Tensor implements AutoCloseable {
    final Device device;
    final Storage storage;
    final DType dtype;
    final long offset;
    final long[] shape;
    final long[] strides;
    final VersionCounter version;

    boolean requiresGrad;
    Tensor grad;
    /** The storage of the gradient cleared by {@link #zeroGrad()}, reused by the next backward (same shape and dtype). */
    Tensor spareGrad;
    Node gradFn;
    boolean retainsGrad;
    List<UnaryOperator<Tensor>> hooks;
    List<java.util.function.Consumer<Tensor>> postAccumulateHooks;
    Tensor workingCopy; // low-precision copy for autocast, kept by an optimizer (see Autocast.setWorkingCopy)
    long workingCopyVersion; // this tensor's version when workingCopy was last made equal to it
    private boolean closed;

    Tensor(Device device, Storage storage, DType dtype, long offset, long[] shape, long[] strides, VersionCounter version) {
        storage.retain();
        this.version = version;
        this.device = device;
        this.storage = storage;
        this.dtype = dtype;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        Scope.register(this);
    }

    // ------------------------------------------------------------------ creation

    /** An uninitialized contiguous tensor. */
    public static Tensor empty(Device device, DType dtype, long... shape) {
        long[] s = Shape.of(shape);
        long bytes = Shape.bytes(s, dtype.byteSize());
        Storage st;
        try {
            st = device.backend().allocate(bytes);
        } catch (OutOfMemoryError e) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT, "out of memory on %s: a %s tensor of shape %s"
                    + " asks for %,d bytes (%s)", device.name(), dtype, Shape.str(s), bytes, e.getMessage()), e);
        }
        try {
            return new Tensor(device, st, dtype, 0, s, Strided.rowMajorStrides(s), new VersionCounter());
        } finally {
            st.release(); // the tensor holds the only reference now
        }
    }

    /** A tensor filled with {@code value}. */
    public static Tensor full(Device device, DType dtype, double value, long... shape) {
        Tensor t = empty(device, dtype, shape);
        device.backend().fill(t.view(), value);
        return t;
    }

    public static Tensor zeros(Device device, DType dtype, long... shape) { return full(device, dtype, 0, shape); }

    public static Tensor ones(Device device, DType dtype, long... shape) { return full(device, dtype, 1, shape); }

    /** A 0-d tensor holding one value. */
    public static Tensor scalar(Device device, DType dtype, double value) { return full(device, dtype, value); }

    /** F32 zeros on the automatic device. */
    public static Tensor zeros(long... shape) { return zeros(Device.auto(), DType.F32, shape); }

    /** F32 ones on the automatic device. */
    public static Tensor ones(long... shape) { return ones(Device.auto(), DType.F32, shape); }

    /** Values {@code start, start+step, ...} below {@code end}, as NumPy's arange. */
    public static Tensor arange(Device device, DType dtype, double start, double end, double step) {
        if (step == 0 || !Double.isFinite(step)) throw new IllegalArgumentException("arange: step must be finite and non-zero, got " + step);
        if (!Double.isFinite(start) || !Double.isFinite(end))
            throw new IllegalArgumentException("arange: start and end must be finite numbers, got start " + start + ", end " + end);
        double count = Math.ceil((end - start) / step);
        if (count > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("arange: " + start + " to " + end + " by " + step + " makes " + count
                    + " values; at most " + (Integer.MAX_VALUE - 8) + " are supported");
        long n = Math.max(0, (long) count);
        double[] v = new double[(int) n];
        for (int i = 0; i < n; i++) v[i] = start + i * step;
        return fromArray(device, dtype, v, n);
    }

    /** {@code 0, 1, ..., n-1} as I64. */
    public static Tensor arange(Device device, long n) { return arange(device, DType.I64, 0, n, 1); }

    /** A tensor of {@code dtype} holding {@code values} (row-major) with the given shape. */
    public static Tensor fromArray(Device device, DType dtype, double[] values, long... shape) {
        checkCount(values.length, shape);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_DOUBLE, Math.max(values.length, 1));
            MemorySegment.copy(values, 0, seg, ValueLayout.JAVA_DOUBLE, 0, values.length);
            return upload(device, seg, DType.F64, dtype, shape);
        }
    }

    /** F32 tensor from floats. */
    public static Tensor fromArray(Device device, float[] values, long... shape) {
        checkCount(values.length, shape);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(values.length, 1));
            MemorySegment.copy(values, 0, seg, ValueLayout.JAVA_FLOAT, 0, values.length);
            return upload(device, seg, DType.F32, DType.F32, shape);
        }
    }

    /** I64 tensor from longs. */
    public static Tensor fromArray(Device device, long[] values, long... shape) {
        checkCount(values.length, shape);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_LONG, Math.max(values.length, 1));
            MemorySegment.copy(values, 0, seg, ValueLayout.JAVA_LONG, 0, values.length);
            return upload(device, seg, DType.I64, DType.I64, shape);
        }
    }

    /** F32 tensor from floats on the automatic device. */
    public static Tensor of(float[] values, long... shape) { return fromArray(Device.auto(), values, shape); }

    /**
     * A tensor of {@code dtype} whose raw little-endian bytes are copied from host memory {@code src}
     * (holding {@code srcType} elements), cast on the device when the types differ.
     */
    public static Tensor upload(Device device, MemorySegment src, DType srcType, DType dtype, long... shape) {
        long n = Shape.numel(shape);
        Tensor raw = empty(device, srcType, shape);
        device.backend().copyFromHost(src, raw.storage, 0, n * srcType.byteSize());
        if (srcType == dtype) return raw;
        try (raw) {
            return raw.to(dtype);
        }
    }

    private static void checkCount(int count, long[] shape) {
        if (Shape.numel(shape) != count)
            throw new IllegalArgumentException(count + " values do not fill shape " + Shape.str(shape)
                    + " (" + Shape.numel(shape) + " elements)");
    }

    /** Uniform values on [0, 1) from the generator's Philox stream, F32. */
    public static Tensor rand(Generator gen, Device device, long... shape) { return random(RandomKind.UNIFORM, gen, device, DType.F32, shape); }

    /** Standard normal values from the generator's Philox stream, F32. */
    public static Tensor randn(Generator gen, Device device, long... shape) { return random(RandomKind.NORMAL, gen, device, DType.F32, shape); }

    /** Uniform values on [low, high), F32. */
    public static Tensor uniform(Generator gen, Device device, double low, double high, long... shape) {
        try (Tensor u = rand(gen, device, shape)) {
            return u.affineNoGrad(high - low, low);
        }
    }

    /** Random values of {@code dtype} (F32 or F64 drawn directly; halves are drawn in F32 and rounded). */
    public static Tensor random(RandomKind kind, Generator gen, Device device, DType dtype, long... shape) {
        if (!dtype.isFloating()) throw new IllegalArgumentException("random: dtype must be floating, got " + dtype);
        long n = Shape.numel(shape);
        long start = gen.reserve(kind == RandomKind.NORMAL ? 2 * n : n);
        DType drawType = dtype == DType.F64 ? DType.F64 : DType.F32;
        Tensor t = empty(device, drawType, shape);
        device.backend().random(kind, gen.seed(), kind == RandomKind.NORMAL ? start / 2 : start, t.view());
        if (drawType == dtype) return t;
        try (t) {
            return t.to(dtype);
        }
    }

    private Tensor affineNoGrad(double scale, double shift) {
        try (GradMode.Guard g = GradMode.noGrad(); Tensor s = mul(scale)) {
            return s.add(shift);
        }
    }

    // ------------------------------------------------------------------ properties

    public Device device() { return device; }

    public DType dtype() { return dtype; }

    /** A copy of the shape. */
    public long[] shape() { return shape.clone(); }

    /** Size of one dimension (negative counts from the end). */
    public long size(int axis) { return shape[Shape.axis(axis, shape.length, "size")]; }

    public int rank() { return shape.length; }

    public long numel() { return Shape.numel(shape); }

    /** Element strides (copy). */
    public long[] strides() { return strides.clone(); }

    public boolean isContiguous() { return view().isContiguous(); }

    /** The backend view of this tensor, for backends and fused kernels. */
    public Strided view() {
        checkOpen();
        return new Strided(storage, dtype, offset, shape, strides);
    }

    /** The backing storage (shared by views). */
    public Storage storage() {
        checkOpen();
        return storage;
    }

    Backend backend() { return device.backend(); }

    void checkOpen() {
        if (closed || storage.isFreed())
            throw new IllegalStateException("tensor " + Shape.str(shape) + " " + dtype + " was already closed");
    }

    public boolean isClosed() { return closed; }

    /** Frees this handle's reference to the storage, and the gradient this tensor owns. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        storage.release();
        if (grad != null) grad.close();
        if (spareGrad != null) spareGrad.close();
        grad = null;
        spareGrad = null;
    }

    // ------------------------------------------------------------------ autograd state

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf tensor as needing gradients; returns this. */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on)
            throw new IllegalStateException("requiresGrad(false) on a non-leaf tensor; use detach()");
        if (on && !dtype.isFloating())
            throw new IllegalArgumentException("only floating tensors can require gradients, got " + dtype);
        requiresGrad = on;
        return this;
    }

    /** The accumulated gradient, or null. */
    public Tensor grad() { return grad; }

    /**
     * Replaces the gradient (closing the old one). The tensor takes ownership of {@code g}: it leaves every scope and
     * is freed with this tensor.
     */
    public void setGrad(Tensor g) {
        if (grad != null && grad != g) grad.close();
        if (spareGrad != null && spareGrad != g) spareGrad.close();
        spareGrad = null;
        grad = g == null ? null : Scope.detachFromScopes(g);
    }

    /**
     * Clears the gradient (PyTorch's zero_grad(set_to_none=True)): {@link #grad()} is null and the old gradient
     * handle is closed, but its memory stays with this tensor and the next backward writes into it, so a training
     * loop allocates its gradients once.
     */
    public void zeroGrad() {
        if (grad == null) return;
        if (spareGrad != null) spareGrad.close();
        spareGrad = grad.isContiguous() && !grad.isClosed() ? Scope.detachFromScopes(grad.detach()) : null;
        grad.close();
        grad = null;
    }

    /** The op that produced this tensor, or null for a leaf. */
    public Node gradFn() { return gradFn; }

    public boolean isLeaf() { return gradFn == null; }

    /** Keeps the gradient of this non-leaf tensor in {@link #grad()} after backward. */
    public Tensor retainGrad() {
        retainsGrad = true;
        return this;
    }

    /**
     * Registers a hook run on this tensor's gradient during backward, before it is accumulated or passed on;
     * the hook may return a replacement gradient or its argument.
     */
    public Tensor registerHook(UnaryOperator<Tensor> hook) {
        if (hooks == null) hooks = new ArrayList<>();
        hooks.add(hook);
        return this;
    }

    /**
     * Registers a hook run during backward right after this leaf's gradient has been accumulated into
     * {@link #grad()}, with this tensor as argument (PyTorch's {@code register_post_accumulate_grad_hook}). Backward
     * visits a tensor after every op that consumes it, so when the hook runs the gradient of this backward is final:
     * data-parallel training starts the all-reduce of a gradient bucket from here while backward goes on. Closing the
     * returned handle removes the hook.
     */
    public HookHandle registerPostAccumulateGradHook(java.util.function.Consumer<Tensor> hook) {
        if (gradFn != null) throw new IllegalStateException("post-accumulate-grad hooks are for leaf tensors; this one is the output of '"
                + gradFn.op() + "'");
        java.util.Objects.requireNonNull(hook, "hook");
        if (postAccumulateHooks == null) postAccumulateHooks = new ArrayList<>();
        postAccumulateHooks.add(hook);
        return () -> {
            if (postAccumulateHooks != null) postAccumulateHooks.remove(hook);
        };
    }

    /** Removes a registered hook when closed. */
    @FunctionalInterface
    public interface HookHandle extends AutoCloseable {
        @Override void close();
    }

    /** A tensor sharing storage with this one, cut from the graph. */
    public Tensor detach() {
        return new Tensor(device, storage, dtype, offset, shape, strides, version);
    }

    /**
     * How many in-place changes this tensor's storage has seen (shared with its views and detached handles), as
     * PyTorch's {@code _version}: autograd checks it on the tensors an op saved for backward.
     */
    public long version() { return version.value; }

    /** Backpropagates from this scalar, freeing the graph. */
    public void backward() { backward(null, false); }

    /** Backpropagates with an explicit output gradient (null for a scalar's 1); keeps the graph when asked. */
    public void backward(Tensor gradOutput, boolean retainGraph) { Backprop.run(this, gradOutput, retainGraph); }

    // ------------------------------------------------------------------ host access

    /** All elements as doubles in row-major order (waits for the device). */
    public double[] toDoubleArray() {
        try (Tensor c = contiguousAs(DType.F64)) {
            double[] out = new double[Math.toIntExact(c.numel())];
            c.backend().copyToHost(c.storage, c.offset * 8, MemorySegment.ofArray(out), out.length * 8L);
            return out;
        }
    }

    /** All elements as floats in row-major order. */
    public float[] toFloatArray() {
        try (Tensor c = contiguousAs(DType.F32)) {
            float[] out = new float[Math.toIntExact(c.numel())];
            c.backend().copyToHost(c.storage, c.offset * 4, MemorySegment.ofArray(out), out.length * 4L);
            return out;
        }
    }

    /** All elements as longs (floating values truncated). */
    public long[] toLongArray() {
        try (Tensor c = contiguousAs(DType.I64)) {
            long[] out = new long[Math.toIntExact(c.numel())];
            c.backend().copyToHost(c.storage, c.offset * 8, MemorySegment.ofArray(out), out.length * 8L);
            return out;
        }
    }

    /** Copies the raw bytes of this tensor (contiguous, in its own dtype) into host memory. */
    public void copyTo(MemorySegment dst) {
        try (Tensor c = contiguousAs(dtype)) {
            c.backend().copyToHost(c.storage, c.offset * dtype.byteSize(), dst, c.numel() * dtype.byteSize());
        }
    }

    /** The value of a one-element tensor (a host sync). */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() needs exactly one element, tensor has shape " + Shape.str(shape));
        return toDoubleArray()[0];
    }

    private Tensor contiguousAs(DType t) {
        checkOpen();
        if (t == dtype && isContiguous()) return detach();
        Tensor out = empty(device, t, shape);
        backend().copy(view(), out.view());
        return out;
    }

    // ------------------------------------------------------------------ casts and copies

    /** This tensor in another dtype (a new tensor; differentiable between floating types). */
    public Tensor to(DType t) {
        if (t == dtype) return this;
        Tensor out = contiguousAs(t);
        DType from = dtype;
        return Ops.record(out, "to_" + t.label(), g -> new Tensor[]{g.to(from)}, this);
    }

    /** This tensor on another device (through host memory). */
    public Tensor to(Device target) {
        if (target.backend() == device.backend()) return this;
        try (Tensor c = contiguousAs(dtype); Arena arena = Arena.ofConfined()) {
            long bytes = numel() * dtype.byteSize();
            MemorySegment host = arena.allocate(Math.max(bytes, 1), 64);
            c.backend().copyToHost(c.storage, c.offset * dtype.byteSize(), host, bytes);
            Tensor out = upload(target, host, dtype, dtype, shape);
            Device src = device;
            return Ops.record(out, "to_device", g -> new Tensor[]{g.to(src)}, this);
        }
    }

    /** A contiguous copy (differentiable). */
    public Tensor copy() {
        Tensor out = empty(device, dtype, shape);
        backend().copy(view(), out.view());
        return Ops.record(out, "copy", g -> new Tensor[]{g}, this);
    }

    /** This tensor if already contiguous, else a contiguous copy. */
    public Tensor contiguous() { return isContiguous() ? this : copy(); }

    /**
     * Overwrites this contiguous tensor's values with {@code src} (broadcast to this shape, cast to this dtype),
     * outside autograd: the way optimizers and loaders update parameters.
     */
    public Tensor copyFrom(Tensor src) {
        checkInPlace("copyFrom");
        Strided s = src.view();
        s = s.withLayout(shape, Shape.broadcastStrides(src.shape, src.strides, shape));
        backend().copy(s, view());
        return this;
    }

    /**
     * Checks an in-place op may run (open, contiguous, and not a leaf that requires grad while grad mode is on: its
     * change would be invisible to autograd) and counts it in the version counter.
     */
    void checkInPlace(String op) {
        checkOpen();
        if (!isContiguous()) throw new IllegalStateException(op + ": in-place ops need a contiguous tensor, shape "
                + Shape.str(shape) + " strides " + Arrays.toString(strides));
        if (requiresGrad && gradFn == null && GradMode.isEnabled())
            throw new IllegalStateException(op + ": a leaf tensor that requires grad (shape " + Shape.str(shape) + ") cannot be changed"
                    + " in place while gradients are recorded; do it inside GradMode.noGrad() (as optimizers and init do), or on a detach()");
        version.value++;
    }

    // ------------------------------------------------------------------ elementwise (see Ops)

    public Tensor neg() { return Ops.unary(UnaryOp.NEG, this); }
    public Tensor abs() { return Ops.unary(UnaryOp.ABS, this); }
    public Tensor exp() { return Ops.unary(UnaryOp.EXP, Autocast.fp32(this)); }
    public Tensor log() { return Ops.unary(UnaryOp.LOG, Autocast.fp32(this)); }
    public Tensor sqrt() { return Ops.unary(UnaryOp.SQRT, this); }
    public Tensor rsqrt() { return Ops.unary(UnaryOp.RSQRT, Autocast.fp32(this)); }
    public Tensor tanh() { return Ops.unary(UnaryOp.TANH, this); }
    public Tensor sigmoid() { return Ops.unary(UnaryOp.SIGMOID, this); }
    public Tensor relu() { return Ops.unary(UnaryOp.RELU, this); }
    public Tensor gelu() { return Ops.unary(UnaryOp.GELU, this); }
    public Tensor sin() { return Ops.unary(UnaryOp.SIN, this); }
    public Tensor cos() { return Ops.unary(UnaryOp.COS, this); }
    public Tensor sign() { return Ops.unary(UnaryOp.SIGN, this); }
    public Tensor square() { return Ops.unary(UnaryOp.SQUARE, this); }
    public Tensor reciprocal() { return Ops.unary(UnaryOp.RECIPROCAL, Autocast.fp32(this)); }
    public Tensor erf() { return Ops.unary(UnaryOp.ERF, this); }
    /** 1 where finite, 0 elsewhere, in this dtype. */
    public Tensor isFinite() { return Ops.unary(UnaryOp.ISFINITE, this); }
    /** 1 where NaN, 0 elsewhere, in this dtype. */
    public Tensor isNan() { return Ops.unary(UnaryOp.ISNAN, this); }

    /** {@code x} where positive, {@code slope * x} elsewhere. */
    public Tensor leakyRelu(double slope) {
        // the mask stays alive: the graph keeps it for backward (scopes free it)
        return where(gt(0), this, mul(slope));
    }

    public Tensor add(Tensor o) { return Ops.binary(BinaryOp.ADD, this, o); }
    public Tensor sub(Tensor o) { return Ops.binary(BinaryOp.SUB, this, o); }
    public Tensor mul(Tensor o) { return Ops.binary(BinaryOp.MUL, this, o); }
    public Tensor div(Tensor o) { return Ops.binary(BinaryOp.DIV, this, o); }
    public Tensor pow(Tensor o) { return Ops.binary(BinaryOp.POW, this, o); }
    /** Elementwise maximum, propagating NaN (torch.maximum). */
    public Tensor maximum(Tensor o) { return Ops.binary(BinaryOp.MAX, this, o); }
    public Tensor minimum(Tensor o) { return Ops.binary(BinaryOp.MIN, this, o); }
    public Tensor eq(Tensor o) { return Ops.binary(BinaryOp.EQ, this, o); }
    public Tensor ne(Tensor o) { return Ops.binary(BinaryOp.NE, this, o); }
    public Tensor lt(Tensor o) { return Ops.binary(BinaryOp.LT, this, o); }
    public Tensor le(Tensor o) { return Ops.binary(BinaryOp.LE, this, o); }
    public Tensor gt(Tensor o) { return Ops.binary(BinaryOp.GT, this, o); }
    public Tensor ge(Tensor o) { return Ops.binary(BinaryOp.GE, this, o); }

    public Tensor add(double s) { return Ops.scalar(BinaryOp.ADD, this, s, false); }
    public Tensor sub(double s) { return Ops.scalar(BinaryOp.SUB, this, s, false); }
    /** {@code s - this}. */
    public Tensor rsub(double s) { return Ops.scalar(BinaryOp.SUB, this, s, true); }
    public Tensor mul(double s) { return Ops.scalar(BinaryOp.MUL, this, s, false); }
    public Tensor div(double s) { return Ops.scalar(BinaryOp.DIV, this, s, false); }
    /** {@code s / this}. */
    public Tensor rdiv(double s) { return Ops.scalar(BinaryOp.DIV, this, s, true); }
    public Tensor pow(double s) { return Ops.scalar(BinaryOp.POW, this, s, false); }
    public Tensor maximum(double s) { return Ops.scalar(BinaryOp.MAX, this, s, false); }
    public Tensor minimum(double s) { return Ops.scalar(BinaryOp.MIN, this, s, false); }
    public Tensor eq(double s) { return Ops.scalar(BinaryOp.EQ, this, s, false); }
    public Tensor ne(double s) { return Ops.scalar(BinaryOp.NE, this, s, false); }
    public Tensor lt(double s) { return Ops.scalar(BinaryOp.LT, this, s, false); }
    public Tensor le(double s) { return Ops.scalar(BinaryOp.LE, this, s, false); }
    public Tensor gt(double s) { return Ops.scalar(BinaryOp.GT, this, s, false); }
    public Tensor ge(double s) { return Ops.scalar(BinaryOp.GE, this, s, false); }

    /** Values limited to [min, max]; the gradient passes where the value was inside. */
    public Tensor clamp(double min, double max) {
        if (min > max) throw new IllegalArgumentException("clamp: min " + min + " is greater than max " + max);
        return minimum(max).maximum(min); // the intermediate belongs to the graph; scopes free it
    }

    /** {@code cond != 0 ? a : b} with broadcasting; differentiable in a and b. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return Ops.where(cond, a, b); }

    // ------------------------------------------------------------------ in-place (no autograd)

    /** {@code this += o} in place, outside autograd (o broadcast to this shape). */
    public Tensor addInPlace(Tensor o) { return Ops.inPlace(BinaryOp.ADD, this, o); }

    /** {@code this *= o} in place, outside autograd. */
    public Tensor mulInPlace(Tensor o) { return Ops.inPlace(BinaryOp.MUL, this, o); }

    /** {@code this *= s} in place, outside autograd. */
    public Tensor mulInPlace(double s) {
        checkInPlace("mulInPlace");
        backend().binaryScalar(BinaryOp.MUL, view(), s, false, view());
        return this;
    }

    /** Sets every element to {@code v} in place. */
    public Tensor fill(double v) {
        checkInPlace("fill");
        backend().fill(view(), v);
        return this;
    }

    // ------------------------------------------------------------------ reductions (see Reductions)

    /** Sum of all elements (0-d). */
    public Tensor sum() { return Reductions.sum(Autocast.fp32(this), allAxes(), false); }
    public Tensor sum(int axis, boolean keepDim) { return Reductions.sum(Autocast.fp32(this), new int[]{axis}, keepDim); }
    public Tensor sum(int[] axes, boolean keepDim) { return Reductions.sum(Autocast.fp32(this), axes, keepDim); }
    public Tensor mean() { return Reductions.mean(Autocast.fp32(this), allAxes(), false); }
    public Tensor mean(int axis, boolean keepDim) { return Reductions.mean(Autocast.fp32(this), new int[]{axis}, keepDim); }
    public Tensor mean(int[] axes, boolean keepDim) { return Reductions.mean(Autocast.fp32(this), axes, keepDim); }
    public Tensor max() { return Reductions.extreme(ReduceOp.MAX, this, allAxes(), false); }
    public Tensor max(int axis, boolean keepDim) { return Reductions.extreme(ReduceOp.MAX, this, new int[]{axis}, keepDim); }
    public Tensor max(int[] axes, boolean keepDim) { return Reductions.extreme(ReduceOp.MAX, this, axes, keepDim); }
    public Tensor min() { return Reductions.extreme(ReduceOp.MIN, this, allAxes(), false); }
    public Tensor min(int axis, boolean keepDim) { return Reductions.extreme(ReduceOp.MIN, this, new int[]{axis}, keepDim); }
    public Tensor min(int[] axes, boolean keepDim) { return Reductions.extreme(ReduceOp.MIN, this, axes, keepDim); }
    /** Index of the maximum along an axis (I64; first on ties). */
    public Tensor argmax(int axis, boolean keepDim) { return Reductions.arg(ReduceOp.ARGMAX, this, axis, keepDim); }
    public Tensor argmin(int axis, boolean keepDim) { return Reductions.arg(ReduceOp.ARGMIN, this, axis, keepDim); }
    /** Variance with Bessel's correction {@code correction} (1 = unbiased, as torch.var). */
    public Tensor var(int[] axes, int correction, boolean keepDim) { return Reductions.var(Autocast.fp32(this), axes, correction, keepDim); }
    /** Vector p-norm over all elements: p = 1, 2, +inf or any p > 0. */
    public Tensor norm(double p) { return Reductions.norm(Autocast.fp32(this), p, allAxes(), false); }
    public Tensor norm(double p, int[] axes, boolean keepDim) { return Reductions.norm(Autocast.fp32(this), p, axes, keepDim); }

    int[] allAxes() {
        int[] a = new int[shape.length];
        for (int i = 0; i < a.length; i++) a[i] = i;
        return a;
    }

    // ------------------------------------------------------------------ views (see Views)

    /** Same data, new shape (a view when possible, else a copy); one dim may be -1. */
    public Tensor reshape(long... newShape) { return Views.reshape(this, newShape); }
    /** A view with new shape; throws when this layout cannot be viewed so. */
    public Tensor view(long... newShape) { return Views.view(this, newShape); }
    public Tensor flatten() { return reshape(numel()); }
    public Tensor permute(int... axes) { return Views.permute(this, axes); }
    public Tensor transpose(int a, int b) { return Views.transpose(this, a, b); }
    /** Transpose of the last two dims. */
    public Tensor mT() { return transpose(-2, -1); }
    /** Elements {@code start..start+length-1} along an axis (a view). */
    public Tensor narrow(int axis, long start, long length) { return Views.narrow(this, axis, start, length); }
    /** Python-style slice along an axis with a positive step (a view); negative bounds count from the end. */
    public Tensor slice(int axis, long start, long end, long step) { return Views.slice(this, axis, start, end, step); }
    /** Selects index {@code i} along an axis, dropping it (a view). */
    public Tensor select(int axis, long i) { return Views.select(this, axis, i); }
    /** Broadcasts to a larger shape without copying (-1 keeps a dim). */
    public Tensor expand(long... newShape) { return Views.expand(this, newShape); }
    public Tensor unsqueeze(int axis) { return Views.unsqueeze(this, axis); }
    public Tensor squeeze(int axis) { return Views.squeeze(this, axis); }

    /** Concatenation along an existing axis. */
    public static Tensor concat(List<Tensor> parts, int axis) { return Indexing.concat(parts, axis); }
    /** Stacking along a new axis. */
    public static Tensor stack(List<Tensor> parts, int axis) { return Indexing.stack(parts, axis); }
    /** Splits into pieces of the given sizes along an axis (views). */
    public List<Tensor> split(long[] sizes, int axis) { return Views.split(this, sizes, axis); }
    /** Splits into pieces of {@code size} (the last may be smaller). */
    public List<Tensor> split(long size, int axis) { return Views.split(this, size, axis); }

    // ------------------------------------------------------------------ indexing (see Indexing)

    /** Rows (or slices along {@code axis}) picked by a 1-D integer index. */
    public Tensor indexSelect(int axis, Tensor index) { return Indexing.indexSelect(this, axis, index); }
    /** torch.gather: {@code out[..., j, ...] = this[..., index[..., j, ...], ...]} along {@code axis}. */
    public Tensor gather(int axis, Tensor index) { return Indexing.gather(this, axis, index); }
    /** A copy of this tensor with {@code src} added at {@code index} along {@code axis} (torch.scatter_add). */
    public Tensor scatterAdd(int axis, Tensor index, Tensor src) { return Indexing.scatterAdd(this, axis, index, src); }
    /** One-hot encoding of an integer tensor: a new last axis of {@code classes}, F32. */
    public Tensor oneHot(int classes) { return Indexing.oneHot(this, classes); }

    // ------------------------------------------------------------------ linear algebra and softmax

    /** Matrix product with NumPy semantics: 1-D and 2-D operands, batched with broadcast batch dims. */
    public Tensor matmul(Tensor o) { return LinearAlgebra.matmul(Autocast.operand(this), Autocast.operand(o)); }
    /** Softmax along an axis, numerically stable. */
    public Tensor softmax(int axis) { return LinearAlgebra.softmax(Autocast.fp32(this), axis, false); }
    public Tensor logSoftmax(int axis) { return LinearAlgebra.softmax(Autocast.fp32(this), axis, true); }

    @Override
    public String toString() {
        if (closed) return "Tensor(closed " + Shape.str(shape) + " " + dtype + ")";
        StringBuilder sb = new StringBuilder("Tensor(").append(Shape.str(shape)).append(' ').append(dtype.label())
                .append(" on ").append(device.name());
        if (numel() <= 16) sb.append(", ").append(Arrays.toString(toDoubleArray()));
        if (requiresGrad) sb.append(", requiresGrad");
        return sb.append(')').toString();
    }
}
