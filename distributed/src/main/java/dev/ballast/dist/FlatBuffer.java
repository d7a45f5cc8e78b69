package dev.ballast.dist;

import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One reusable host buffer into which a list of tensors is packed for a single collective per dtype (a gradient set
 * of hundreds of tensors costs one all-reduce, as in PyTorch DDP's buckets). Tensors are grouped by the dtype they
 * travel in, in order of first appearance (the same on every rank for the same list); F16 and BF16 travel as F32.
 * The buffer grows to the largest group seen and is kept for the next call. Not thread-safe.
 */
public final class FlatBuffer implements AutoCloseable {

    /** The collective run on one packed group: {@code count} elements of {@code type} at {@code buf}, in place. */
    @FunctionalInterface
    public interface HostCollective {
        void run(MemorySegment buf, long count, DType type);
    }

    private Arena arena = Arena.ofShared();
    private MemorySegment buffer = MemorySegment.NULL;

    /** The dtype a tensor of {@code t} travels in. */
    public static DType wire(DType t) { return t.isHalf() ? DType.F32 : t; }

    /**
     * Packs each dtype group of {@code tensors} (only when {@code pack}; a broadcast receiver need not), runs
     * {@code collective} on it and writes the result back into the tensors (only when {@code unpack}).
     */
    public void run(List<Tensor> tensors, boolean pack, boolean unpack, HostCollective collective) {
        for (var group : groups(tensors).entrySet()) {
            DType type = group.getKey();
            long count = 0;
            for (Tensor t : group.getValue()) count += t.numel();
            if (count == 0) continue;
            MemorySegment buf = ensure(count * type.byteSize());
            if (pack) {
                long off = 0;
                for (Tensor t : group.getValue()) {
                    long bytes = t.numel() * type.byteSize();
                    if (t.dtype() == type) {
                        t.copyTo(buf.asSlice(off, bytes));
                    } else {
                        try (Tensor wide = t.to(type)) {
                            wide.copyTo(buf.asSlice(off, bytes));
                        }
                    }
                    off += bytes;
                }
            }
            collective.run(buf, count, type);
            if (unpack) {
                long off = 0;
                for (Tensor t : group.getValue()) {
                    long bytes = t.numel() * type.byteSize();
                    MemorySegment src = buf.asSlice(off, bytes);
                    if (t.dtype() == type) {
                        Strided v = t.view();
                        t.device().backend().copyFromHost(src, v.storage(), v.offset() * type.byteSize(), bytes);
                    } else {
                        try (Tensor wide = Tensor.upload(t.device(), src, type, type, t.shape())) {
                            t.copyFrom(wide);
                        }
                    }
                    off += bytes;
                }
            }
        }
    }

    private static Map<DType, List<Tensor>> groups(List<Tensor> tensors) {
        Map<DType, List<Tensor>> g = new LinkedHashMap<>();
        for (Tensor t : tensors) g.computeIfAbsent(wire(t.dtype()), k -> new ArrayList<>()).add(t);
        return g;
    }

    private MemorySegment ensure(long bytes) {
        if (buffer.byteSize() < bytes) {
            arena.close();
            arena = Arena.ofShared();
            buffer = arena.allocate(bytes, 64);
        }
        return buffer.asSlice(0, bytes);
    }

    /** Capacity in bytes (the largest group so far). */
    public long capacity() { return buffer.byteSize(); }

    @Override public void close() {
        arena.close();
        buffer = MemorySegment.NULL;
    }
}
