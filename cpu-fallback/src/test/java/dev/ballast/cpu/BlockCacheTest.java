package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Large freed blocks are reused; accounting counts only memory in use. */
class BlockCacheTest {
    @Test void aFreedLargeBlockIsReusedAndAccountingReturnsToBaseline() {
        CpuBackend cpu = new CpuBackend(1);
        long before = cpu.allocatedBytes();
        CpuStorage a = (CpuStorage) cpu.allocate(5_000_000);
        long address = a.address();
        a.segment().fill((byte) 7);
        a.release();
        assertEquals(before, cpu.allocatedBytes(), "freed memory leaves the in-use count");
        assertTrue(CpuBackend.cachedBytes() >= BlockCache.sizeClass(5_000_000));
        CpuStorage b = (CpuStorage) cpu.allocate(4_990_000); // same size class
        assertEquals(address, b.address(), "the cached block is handed out again");
        b.release();
        CpuBackend.emptyCache();
        assertEquals(0, CpuBackend.cachedBytes());
    }

    @Test void sizeClassesWasteAtMostAnEighth() {
        for (long n : new long[]{1 << 20, 3_000_001, 64L << 20, (64L << 20) + 1, 1_000_000_007L}) {
            long c = BlockCache.sizeClass(n);
            assertTrue(c >= n && c <= n + n / 8 + 64, n + " -> " + c);
        }
        assertEquals(128, BlockCache.sizeClass(100), "small blocks are only aligned");
    }
}
