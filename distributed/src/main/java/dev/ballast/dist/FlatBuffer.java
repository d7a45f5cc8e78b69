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
 * The groups lie one after another in the buffer, which grows to the largest list seen and is kept for the next
 * call. Packing and unpacking may run on different threads, one after the other; not for concurrent use.
 */
public final class FlatBuffer implements AutoCloseable {

    /** The collective run on one packed group: {@code count} elements of {@code type} at {@code buf}, in place. */
    @FunctionalInterface
    public interface HostCollective {
        void run(MemorySegment buf, long count, DType type);
    }

    /** One dtype group of a packed list: its tensors and where their elements lie in the buffer. */
    public record Group(DType type, List<Tensor> tensors, long byteOffset, long count) {}

    private Arena arena = Arena.ofShared();
    private MemorySegment buffer = MemorySegment.NULL;

    /** The dtype a tensor of {@code t} travels in. */
    public static DType wire(DType t) { return t.isHalf() ? DType.F32 : t; }

    /**
     * Packs each dtype group of {@code tensors} (only when {@code pack}; a broadcast receiver need not), runs
     * {@code collective} on it and writes the result back into the tensors (only when {@code unpack}).
     */
    public void run(List<Tensor> tensors, boolean pack, boolean unpack, HostCollective collective) {
        List<Group> groups = pack(tensors, pack);
        for (Group g : groups) collective.run(segment(g), g.count(), g.type());
        if (unpack) unpack(groups);
    }

    /**
     * Lays out the dtype groups of {@code tensors} in the buffer (growing it if needed) and, when {@code copyIn}, copies
     * the tensors' values there. Empty groups are left out.
     */
    public List<Group> pack(List<Tensor> tensors, boolean copyIn) {
        Map<DType, List<Tensor>> byType = new LinkedHashMap<>();
        for (Tensor t : tensors) byType.computeIfAbsent(wire(t.dtype()), k -> new ArrayList<>()).add(t);
        List<Group> groups = new ArrayList<>();
        long total = 0;
        for (var e : byType.entrySet()) {
            long count = 0;
            for (Tensor t : e.getValue()) count += t.numel();
            if (count == 0) continue;
            total = (total + 63) & ~63L; // each group starts 64-byte aligned
            groups.add(new Group(e.getKey(), List.copyOf(e.getValue()), total, count));
            total += count * e.getKey().byteSize();
        }
        ensure(total);
        if (copyIn) {
            for (Group g : groups) {
                long off = g.byteOffset();
                for (Tensor t : g.tensors()) {
                    long bytes = t.numel() * g.type().byteSize();
                    if (t.dtype() == g.type()) {
                        t.copyTo(buffer.asSlice(off, bytes));
                    } else {
                        try (Tensor wide = t.to(g.type())) {
                            wide.copyTo(buffer.asSlice(off, bytes));
                        }
                    }
                    off += bytes;
                }
            }
        }
        return groups;
    }

    /** The packed elements of {@code g}. */
    public MemorySegment segment(Group g) { return buffer.asSlice(g.byteOffset(), g.count() * g.type().byteSize()); }

    /** Writes each group's packed values back into its tensors. */
    public void unpack(List<Group> groups) {
        for (Group g : groups) {
            DType type = g.type();
            long off = g.byteOffset();
            for (Tensor t : g.tensors()) {
                long bytes = t.numel() * type.byteSize();
                MemorySegment src = buffer.asSlice(off, bytes);
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

    private void ensure(long bytes) {
        if (buffer.byteSize() < bytes) {
            arena.close();
            arena = Arena.ofShared();
            buffer = arena.allocate(bytes, 64);
        }
    }

    /** Capacity in bytes (the largest list so far). */
    public long capacity() { return buffer.byteSize(); }

    @Override public void close() {
        arena.close();
        buffer = MemorySegment.NULL;
    }
}
