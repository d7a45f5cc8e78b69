package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Freed blocks of every size are reused; accounting counts only memory in use. */
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

    @Test void everyClassHasItsOwnIndexAndMapsBack() {
        long prev = 0;
        int prevIndex = -1;
        for (long n = 1; n < (1L << 40); n += 1 + n / 5) {
            long c = BlockCache.sizeClass(n);
            int i = BlockCache.classIndex(c);
            assertEquals(c, BlockCache.classSize(i), n + " -> class " + c + " index " + i);
            if (c > prev) assertTrue(i > prevIndex, "indices grow with sizes: " + c + " -> " + i);
            prev = c;
            prevIndex = i;
        }
    }

    @Test void smallBlocksAreReusedSoAStepAfterWarmUpMakesNoCLibraryCalls() {
        CpuBackend cpu = new CpuBackend(1);
        long[] sizes = {4, 100, 4096, 200_000, 700_000};
        Runnable step = () -> {
            java.util.List<CpuStorage> live = new java.util.ArrayList<>();
            for (long s : sizes) live.add((CpuStorage) cpu.allocate(s));
            for (CpuStorage s : live) s.release();
        };
        step.run();
        long calls = cpu.memoryStats().libcAllocations();
        for (int i = 0; i < 5; i++) step.run();
        assertEquals(calls, cpu.memoryStats().libcAllocations(), "warm steps take every block from the cache");
    }
}
