package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.NormKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The host encoding of the multi-tensor chunk table, and the constants multi_tensor.cu shares with Java. No GPU needed. */
class ChunkTableTest {
    private final Random rnd = new Random(System.nanoTime());
    private static final int C = ChunkTable.CHUNK;

    private static long tensorLong(MemorySegment s, int j, int field) { return s.get(ValueLayout.JAVA_LONG, (long) j * 32 + field); }
    private static int tensorInt(MemorySegment s, int j, int field) { return s.get(ValueLayout.JAVA_INT, (long) j * 32 + field); }

    @Test
    void chunksCoverEveryTensorOfTheFirstListInOrder() {
        DType[] types = {DType.F32, DType.F16, DType.BF16};
        long[] fixed = {0, 1, C - 1, C, C + 1, 3L * C - 7, 0};
        List<ChunkTable.Entry> first = new ArrayList<>(), second = new ArrayList<>();
        for (int i = 0; i < fixed.length + 5; i++) {
            long n = i < fixed.length ? fixed[i] : 1 + rnd.nextInt(5 * C);
            first.add(new ChunkTable.Entry(0x7f0000000000L + 4096L * i, n, types[rnd.nextInt(3)]));
            second.add(new ChunkTable.Entry(0x7e0000000000L + 4096L * i, n, DType.F32));
        }
        List<ChunkTable.Entry> all = new ArrayList<>(first);
        all.addAll(second);
        ChunkTable.Key key = new ChunkTable.Key(2, all);
        int n = first.size();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = ChunkTable.encode(key, a);
            assertEquals(ChunkTable.byteSize(key), s.byteSize());
            long chunksAt = 32L * all.size(), expectChunk = 0;
            for (int j = 0; j < all.size(); j++) {
                ChunkTable.Entry e = all.get(j);
                assertEquals(e.ptr(), tensorLong(s, j, 0), "pointer of tensor " + j);
                assertEquals(e.numel(), tensorLong(s, j, 8), "numel of tensor " + j);
                assertEquals(e.dtype().ordinal(), tensorInt(s, j, 28), "dtype of tensor " + j);
                if (j >= n) {
                    assertEquals(0, tensorInt(s, j, 24), "companion lists are not chunked");
                    continue;
                }
                assertEquals(expectChunk, tensorLong(s, j, 16), "first chunk of tensor " + j);
                int count = tensorInt(s, j, 24);
                assertEquals(Math.ceilDiv(e.numel(), C), count, "chunk count of tensor " + j);
                long covered = 0;
                for (int k = 0; k < count; k++) {
                    long at = chunksAt + 16 * (expectChunk + k);
                    assertEquals(covered, s.get(ValueLayout.JAVA_LONG, at), "start of chunk " + k + " of tensor " + j);
                    assertEquals(j, s.get(ValueLayout.JAVA_INT, at + 8));
                    int len = s.get(ValueLayout.JAVA_INT, at + 12);
                    assertTrue(len > 0 && len <= C);
                    covered += len;
                }
                assertEquals(e.numel(), covered, "tensor " + j + " covered exactly");
                expectChunk += count;
            }
            assertEquals(ChunkTable.chunkCount(key), expectChunk);
        }
    }

    @Test
    void tensorsBeyondTwoToThe31ElementsGet64BitStarts() {
        long n = (1L << 31) + 12345;
        ChunkTable.Key key = new ChunkTable.Key(1, List.of(new ChunkTable.Entry(1L << 40, 5, DType.F32),
                new ChunkTable.Entry(1L << 41, n, DType.BF16)));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = ChunkTable.encode(key, a);
            long chunks = ChunkTable.chunkCount(key);
            assertEquals(1 + Math.ceilDiv(n, C), chunks);
            long last = 64 + 16 * (chunks - 1);
            assertEquals((n - 1) / C * C, s.get(ValueLayout.JAVA_LONG, last));
            assertTrue(s.get(ValueLayout.JAVA_LONG, last) > Integer.MAX_VALUE);
            assertEquals(n - (n - 1) / C * C, s.get(ValueLayout.JAVA_INT, last + 12));
        }
    }

    @Test
    void keysNeedEqualLists() {
        var e = new ChunkTable.Entry(1, 1, DType.F32);
        assertThrows(IllegalArgumentException.class, () -> new ChunkTable.Key(2, List.of(e, e, e)));
        assertEquals(new ChunkTable.Key(1, List.of(e)), new ChunkTable.Key(1, new ArrayList<>(List.of(e))));
    }

    /** The enums in multi_tensor.cu are the Java ordinals the host passes. */
    @Test
    void kernelConstantsMatchJavaOrdinals() {
        String src = KernelSources.read("multi_tensor.cu");
        for (DType t : DType.values()) assertConstant(src, "DT_" + t.name(), t.ordinal());
        for (NormKind k : NormKind.values()) assertConstant(src, "K_" + k.name(), k.ordinal());
        for (LrSchedule.Kind k : LrSchedule.Kind.values()) assertConstant(src, "S_" + k.name(), k.ordinal());
        assertTrue(src.contains("struct TensorRef { u64 ptr; i64 numel; i64 first_chunk; int chunk_count; int dtype; };"),
                "TensorRef layout changed: update ChunkTable");
        assertTrue(src.contains("struct Chunk { i64 start; int tensor; int length; };"), "Chunk layout changed: update ChunkTable");
    }

    private static void assertConstant(String src, String name, int value) {
        Matcher m = Pattern.compile("\\b" + name + "\\s*=\\s*(\\d+)").matcher(src);
        assertTrue(m.find(), name + " is not defined in multi_tensor.cu");
        assertEquals(value, Integer.parseInt(m.group(1)), name);
    }
}
