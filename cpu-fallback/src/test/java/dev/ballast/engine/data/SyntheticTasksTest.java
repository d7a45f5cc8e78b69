package dev.ballast.engine.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import org.junit.jupiter.api.Test;

/** The synthetic tasks hold the structure their papers describe, and are reproducible from the seed. */
class SyntheticTasksTest {
    static final Device CPU = Device.cpu();

    @Test
    void addingProblem() {
        int n = 200, T = 30;
        try (Dataset d = AddingProblem.generate(CPU, n, T, 7); Dataset same = AddingProblem.generate(CPU, n, T, 7);
             Dataset other = AddingProblem.generate(CPU, n, T, 8)) {
            assertArrayEquals(new long[]{n, T, 2}, d.inputs().shape());
            assertArrayEquals(new long[]{n, 1}, d.targets().shape());
            double[] x = d.inputs().toDoubleArray(), y = d.targets().toDoubleArray();
            double sumSq = 0;
            for (int i = 0; i < n; i++) {
                int first = 0, second = 0;
                double sum = 0;
                for (int t = 0; t < T; t++) {
                    double v = x[(i * T + t) * 2], m = x[(i * T + t) * 2 + 1];
                    assertTrue(v >= 0 && v < 1);
                    assertTrue(m == 0 || m == 1);
                    if (m == 1) {
                        if (t < T / 2) first++; else second++;
                        sum += v;
                    }
                }
                assertEquals(1, first, "one marker in the first half");
                assertEquals(1, second, "one marker in the second half");
                assertEquals(sum, y[i], 1e-6);
                sumSq += (y[i] - 1) * (y[i] - 1);
            }
            assertEquals(1.0 / 6, sumSq / n, 0.04, "baseline MSE of predicting 1 is about 1/6");
            assertArrayEquals(x, same.inputs().toDoubleArray(), 0);
            assertFalse(java.util.Arrays.equals(x, other.inputs().toDoubleArray()));
        }
    }

    @Test
    void temporalOrder() {
        int n = 400, T = 100;
        try (Dataset d = TemporalOrder.generate(CPU, n, T, 3)) {
            assertArrayEquals(new long[]{n, T, 8}, d.inputs().shape());
            double[] x = d.inputs().toDoubleArray();
            long[] y = d.targets().toLongArray();
            int[] classCounts = new int[4];
            for (int i = 0; i < n; i++) {
                int[] pos = new int[2];
                int[] sym = new int[2];
                int found = 0;
                for (int t = 0; t < T; t++) {
                    int hot = -1, ones = 0;
                    for (int c = 0; c < 8; c++) if (x[(i * T + t) * 8 + c] == 1) { hot = c; ones++; }
                    assertEquals(1, ones, "one-hot");
                    if (t == 0) assertEquals(6, hot, "starts with B");
                    else if (t == T - 1) assertEquals(7, hot, "ends with E");
                    else if (hot == 4 || hot == 5) { pos[found] = t; sym[found++] = hot; }
                    else assertTrue(hot < 4, "distractors are a..d");
                }
                assertEquals(2, found);
                assertTrue(pos[0] >= 10 && pos[0] <= 20, "first relevant symbol at " + pos[0]);
                assertTrue(pos[1] >= 50 && pos[1] <= 60, "second relevant symbol at " + pos[1]);
                assertEquals(2 * (sym[0] - 4) + (sym[1] - 4), y[i]);
                classCounts[(int) y[i]]++;
            }
            for (int c : classCounts) assertTrue(c > n / 8, "classes roughly balanced: " + java.util.Arrays.toString(classCounts));
        }
        assertThrows(IllegalArgumentException.class, () -> TemporalOrder.generate(CPU, 5, 20, 0, 3, 10, 12, 1));
    }

    @Test
    void twoSpirals() {
        try (Dataset d = TwoSpirals.generate(CPU, 100, 0.0, 1); Dataset noisy = TwoSpirals.generate(CPU, 100, 0.1, 1)) {
            assertArrayEquals(new long[]{200, 2}, d.inputs().shape());
            double[] x = d.inputs().toDoubleArray();
            long[] y = d.targets().toLongArray();
            for (int i = 0; i < 100; i++) {
                assertEquals(0, y[2 * i]);
                assertEquals(1, y[2 * i + 1]);
                // without noise, class 1 is class 0 rotated by pi
                assertEquals(-x[4 * i], x[4 * i + 2], 1e-6);
                assertEquals(-x[4 * i + 1], x[4 * i + 3], 1e-6);
                double r = Math.hypot(x[4 * i], x[4 * i + 1]);
                assertTrue(r <= 1 + 1e-6);
                double a = r * 1.5 * 2 * Math.PI;
                assertEquals(r * Math.cos(a), x[4 * i], 1e-5);
            }
            double[] xn = noisy.inputs().toDoubleArray();
            double sq = 0;
            for (int i = 0; i < x.length; i++) sq += (xn[i] - x[i]) * (xn[i] - x[i]);
            assertEquals(0.1, Math.sqrt(sq / x.length), 0.02, "noise has the asked standard deviation");
        }
    }

    @Test
    void teacherStudent() {
        TeacherStudent.Teacher teacher = TeacherStudent.teacher(5, 8, 3, 11);
        try (Dataset d = TeacherStudent.generate(CPU, teacher, 50, 0.0, 12)) {
            assertArrayEquals(new long[]{50, 5}, d.inputs().shape());
            assertArrayEquals(new long[]{50, 3}, d.targets().shape());
            double[] x = d.inputs().toDoubleArray(), y = d.targets().toDoubleArray();
            for (int i = 0; i < 50; i++) {
                double[] row = java.util.Arrays.copyOfRange(x, i * 5, i * 5 + 5);
                double[] want = teacher.apply(row);
                for (int k = 0; k < 3; k++) assertEquals(want[k], y[i * 3 + k], 1e-5);
            }
        }
    }
}
