package dev.ballast.cuda;

import dev.ballast.engine.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The device-side description of {@code lists} lists of {@code n} tensors that every kernel of
 * {@code multi_tensor.cu} walks: one 32-byte {@code TensorRef} per tensor ({pointer, numel, first chunk,
 * chunk count, dtype}; list j's tensor i at index {@code j * n + i}) followed by one 16-byte {@code Chunk}
 * per {@link #CHUNK} elements of the first list ({element start, tensor index, length}), in tensor order.
 * Built once per distinct tensor list ({@link Key}) and cached by {@link CudaMultiTensor}, so a repeated step
 * uploads nothing and can be captured in a CUDA graph.
 */
final class ChunkTable {
    /** Elements per chunk, as the CPU twin's partition (the same chunk boundaries on both backends). */
    static final int CHUNK = 1 << 15;
    static final int TENSOR_BYTES = 32, CHUNK_BYTES = 16;

    /** One tensor as the table sees it: device address of element 0, element count, dtype. */
    record Entry(long ptr, long numel, DType dtype) {}

    /** What decides a table's content: the number of lists and every tensor of every list, in order. */
    record Key(int lists, List<Entry> entries) {
        Key {
            entries = List.copyOf(entries);
            if (lists <= 0 || entries.size() % lists != 0)
                throw new IllegalArgumentException(entries.size() + " tensors do not form " + lists + " equal lists");
        }

        int tensorsPerList() { return entries.size() / lists; }
    }

    /** Chunks needed for the first list of {@code key}. */
    static long chunkCount(Key key) {
        long c = 0;
        for (int i = 0; i < key.tensorsPerList(); i++) c += Math.ceilDiv(key.entries().get(i).numel(), CHUNK);
        return c;
    }

    /** Bytes of the encoded table: the tensor refs, then the chunks. */
    static long byteSize(Key key) {
        return (long) key.entries().size() * TENSOR_BYTES + chunkCount(key) * CHUNK_BYTES;
    }

    /** The table as the kernels read it, encoded into native memory from {@code arena}. */
    static MemorySegment encode(Key key, Arena arena) {
        MemorySegment s = arena.allocate(Math.max(byteSize(key), 1), 16);
        int n = key.tensorsPerList();
        long chunksAt = (long) key.entries().size() * TENSOR_BYTES;
        long chunk = 0;
        for (int j = 0; j < key.entries().size(); j++) {
            Entry e = key.entries().get(j);
            long base = (long) j * TENSOR_BYTES;
            long count = Math.ceilDiv(e.numel(), CHUNK);
            if (count > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor of " + e.numel() + " elements has too many chunks");
            s.set(ValueLayout.JAVA_LONG, base, e.ptr());
            s.set(ValueLayout.JAVA_LONG, base + 8, e.numel());
            s.set(ValueLayout.JAVA_LONG, base + 16, j < n ? chunk : -1); // only the first list is chunked
            s.set(ValueLayout.JAVA_INT, base + 24, j < n ? (int) count : 0);
            s.set(ValueLayout.JAVA_INT, base + 28, e.dtype().ordinal());
            if (j >= n) continue;
            for (long start = 0; start < e.numel(); start += CHUNK, chunk++) {
                long at = chunksAt + chunk * CHUNK_BYTES;
                s.set(ValueLayout.JAVA_LONG, at, start);
                s.set(ValueLayout.JAVA_INT, at + 8, j);
                s.set(ValueLayout.JAVA_INT, at + 12, (int) Math.min(CHUNK, e.numel() - start));
            }
        }
        return s;
    }
}
