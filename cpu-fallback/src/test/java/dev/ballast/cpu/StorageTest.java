package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class StorageTest {

    @Test
    void allocationAccountingReturnsToBaseline() {
        CpuBackend be = new CpuBackend(1);
        long base = be.allocatedBytes();
        Storage a = be.allocate(1000), b = be.allocate(3), z = be.allocate(0);
        assertEquals(base + 1003, be.allocatedBytes());
        assertEquals(1000, a.byteSize());
        assertEquals(0, z.byteSize());
        assertEquals(0, ((CpuStorage) a).address() % 64, "64-byte aligned");
        a.retain();
        a.release();
        assertFalse(a.isFreed(), "one reference left");
        a.release();
        b.release();
        z.release();
        assertTrue(a.isFreed() && b.isFreed() && z.isFreed());
        assertEquals(base, be.allocatedBytes());
        be.pool().shutdown();
    }

    @Test
    void useAfterFreeFailsCleanly() {
        Storage s = CPU.allocate(64);
        s.release();
        IllegalStateException e = assertThrows(IllegalStateException.class, s::retain);
        assertEquals("tensor memory already freed", e.getMessage());
        assertThrows(IllegalStateException.class, s::release, "double release");
        assertThrows(IllegalStateException.class, () -> ((CpuStorage) s).segment());
        Strided x = Strided.contiguous(s, DType.F32, 0, 16);
        assertThrows(IllegalStateException.class, () -> CPU.unary(UnaryOp.NEG, x, empty(DType.F32, 16)));
        assertThrows(IllegalStateException.class, () -> CPU.copyToHost(s, 0, MemorySegment.ofArray(new byte[64]), 64));
    }

    @Test
    void hostCopiesRoundTrip() {
        Storage s = CPU.allocate(40);
        float[] in = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        CPU.copyFromHost(MemorySegment.ofArray(in), s, 0, 40);
        float[] back = new float[10];
        CPU.copyToHost(s, 8, MemorySegment.ofArray(back), 32);
        assertArrayEquals(new float[] {3, 4, 5, 6, 7, 8, 9, 10, 0, 0}, back);
        assertThrows(IndexOutOfBoundsException.class, () -> CPU.copyToHost(s, 8, MemorySegment.ofArray(new float[10]), 40),
                "reading past the end is refused, not a crash");
        s.release();
    }

    @Test
    void unreachableStorageIsFreedByTheCleaner() throws InterruptedException {
        CpuBackend be = new CpuBackend(1);
        for (int i = 0; i < 10; i++) be.allocate(1 << 20).byteSize();   // dropped without release
        assertEquals(10L << 20, be.allocatedBytes());
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (be.allocatedBytes() != 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(0, be.allocatedBytes(), "the cleaner frees storages nobody references");
        be.pool().shutdown();
    }

    @Test
    void segmentHasExactlyTheRequestedSize() {
        CpuStorage s = (CpuStorage) CPU.allocate(10);
        assertEquals(10, s.segment().byteSize());
        assertThrows(IndexOutOfBoundsException.class, () -> s.segment().get(ValueLayout.JAVA_INT, 8));
        s.release();
    }
}
