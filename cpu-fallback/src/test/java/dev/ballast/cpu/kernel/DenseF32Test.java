package dev.ballast.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link DenseF32#rowMajor} against element-by-element reads, for row-major, transposed and general strides. */
class DenseF32Test {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Test void copiesEveryStrideLayoutElementForElement() {
        long seed = System.nanoTime();
        System.out.println("DenseF32Test seed " + seed);
        Random r = new Random(seed);
        int rows = 7, cols = 5;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4L * 200);
            for (int i = 0; i < 200; i++) s.setAtIndex(F, i, r.nextFloat());
            long[][] layouts = {{3, cols, 1}, {2, 1, rows}, {1, 2 * cols + 1, 2}, {0, 1, 0}};
            for (long[] l : layouts) {
                float[] d = DenseF32.rowMajor(s, l[0], l[1], l[2], rows, cols);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        assertEquals(s.getAtIndex(F, l[0] + i * l[1] + j * l[2]), d[i * cols + j],
                                "offset " + l[0] + " strides " + l[1] + "," + l[2] + " at " + i + "," + j);
            }
        }
    }
}
