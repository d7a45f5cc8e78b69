package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ballast.engine.Device;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.SequenceTasks;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Copy and sort data: layout [x, SEP, y without its last token], targets -100 on the question half, y on the answer. */
class SequenceTasksTest {

    private static void check(SequenceTasks.Kind kind) {
        int n = 50, len = 7, vocab = 6;
        try (Dataset d = SequenceTasks.generate(Device.cpu(), kind, n, len, vocab, 42)) {
            assertArrayEquals(new long[]{n, 2 * len}, d.inputs().shape());
            assertArrayEquals(new long[]{n, 2 * len}, d.targets().shape());
            long[] in = d.inputs().toLongArray(), tg = d.targets().toLongArray();
            boolean anyUnsorted = false;
            for (int i = 0; i < n; i++) {
                long[] row = Arrays.copyOfRange(in, i * 2 * len, (i + 1) * 2 * len);
                long[] trow = Arrays.copyOfRange(tg, i * 2 * len, (i + 1) * 2 * len);
                long[] x = Arrays.copyOfRange(row, 0, len);
                for (long v : x) assertEquals(true, v >= 0 && v < vocab, "token " + v);
                assertEquals(SequenceTasks.separator(vocab), row[len]);
                long[] y = x.clone();
                if (kind == SequenceTasks.Kind.SORT) Arrays.sort(y);
                anyUnsorted |= !Arrays.equals(x, y);
                for (int p = 0; p < len; p++) assertEquals(-100, trow[p]);
                assertArrayEquals(y, Arrays.copyOfRange(trow, len, 2 * len)); // answer targets
                assertArrayEquals(Arrays.copyOf(y, len - 1), Arrays.copyOfRange(row, len + 1, 2 * len)); // teacher forcing
            }
            if (kind == SequenceTasks.Kind.SORT) assertEquals(true, anyUnsorted, "no example needed sorting");
        }
    }

    @Test void copyLayout() { check(SequenceTasks.Kind.COPY); }

    @Test void sortLayout() { check(SequenceTasks.Kind.SORT); }

    @Test void seedsGiveDifferentButRepeatableData() {
        try (Dataset a = SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.COPY, 20, 5, 10, 1);
             Dataset b = SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.COPY, 20, 5, 10, 1);
             Dataset c = SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.COPY, 20, 5, 10, 2)) {
            assertArrayEquals(a.inputs().toLongArray(), b.inputs().toLongArray());
            assertNotEquals(Arrays.toString(a.inputs().toLongArray()), Arrays.toString(c.inputs().toLongArray()));
        }
    }

    @Test void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.SORT, 0, 5, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.SORT, 5, 0, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> SequenceTasks.generate(Device.cpu(), SequenceTasks.Kind.SORT, 5, 5, 1, 1));
    }
}
