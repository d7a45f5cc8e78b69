package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.bench.CpuMatmulBench;
import java.util.List;
import org.junit.jupiter.api.Test;

class CpuMatmulCommandTest {

    @Test void tableShowsEachSizeAndNaWithoutNumpy() {
        var r = new CpuMatmulBench.Result(new int[] {256, 512}, new double[] {40.25, 81.5}, new Double[] {80.5, null});
        List<String> lines = CpuMatmulCommand.table(r).lines().toList();
        assertEquals(3, lines.size());
        assertTrue(lines.get(0).contains("Ballast GFLOP/s") && lines.get(0).contains("NumPy GFLOP/s"), lines.get(0));
        assertEquals(List.of("256", "40.3", "80.5", "0.50"), List.of(lines.get(1).trim().split("\\s+")));
        assertEquals(List.of("512", "81.5", "n/a", "n/a"), List.of(lines.get(2).trim().split("\\s+")));
    }

    @Test void nonPositiveSizeIsAUsageError() {
        Run r = Run.of("bench", "cpu-matmul", "--sizes", "256,0");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Invalid --sizes value 0"), r.err());
    }

    @Test void nonNumericSizeIsAUsageError() {
        Run r = Run.of("bench", "cpu-matmul", "--sizes", "256,big");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("'big' is not an int"), r.err());
        assertTrue(r.err().contains("Usage: ballast bench cpu-matmul"), r.err());
    }
}
