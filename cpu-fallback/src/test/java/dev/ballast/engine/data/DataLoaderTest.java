package dev.ballast.engine.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Batching: sizes, drop-last, seeded per-epoch shuffles that cover every example once. */
class DataLoaderTest {
    static final Device CPU = Device.cpu();

    static Dataset numbered(int n) {
        double[] x = new double[n * 2];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            x[2 * i] = i;
            x[2 * i + 1] = -i;
            y[i] = i;
        }
        return new Dataset(Tensor.fromArray(CPU, DType.F32, x, n, 2), Tensor.fromArray(CPU, DType.F32, y, n));
    }

    static List<Double> epochTargets(DataLoader dl, long epoch) {
        List<Double> out = new ArrayList<>();
        try (Scope s = Scope.open()) {
            for (Batch b : dl.epoch(epoch)) {
                double[] x = b.inputs().toDoubleArray(), y = b.targets().toDoubleArray();
                for (int i = 0; i < y.length; i++) {
                    assertEquals(y[i], x[2 * i], "inputs and targets stay paired");
                    out.add(y[i]);
                }
            }
        }
        return out;
    }

    @Test
    void sequentialWithAndWithoutDropLast() {
        try (Dataset d = numbered(10)) {
            DataLoader keep = new DataLoader(d, 4, false, false, 0);
            assertEquals(3, keep.batchesPerEpoch());
            try (Scope s = Scope.open()) {
                assertEquals(2, keep.batch(0, 2).size());
            }
            assertEquals(List.of(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0), epochTargets(keep, 0));
            DataLoader drop = new DataLoader(d, 4, false, true, 0);
            assertEquals(2, drop.batchesPerEpoch());
            assertEquals(8, epochTargets(drop, 0).size());
            assertThrows(IllegalArgumentException.class, () -> drop.batch(0, 2));
            assertThrows(IllegalArgumentException.class, () -> new DataLoader(d, 11, false, true, 0));
        }
    }

    @Test
    void shuffleIsAPermutationPerEpochAndReproducible() {
        try (Dataset d = numbered(25)) {
            DataLoader a = new DataLoader(d, 6, true, false, 99);
            DataLoader b = new DataLoader(d, 6, true, false, 99);
            List<Double> e0 = epochTargets(a, 0), e1 = epochTargets(a, 1);
            double[] sorted = e0.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] all = new double[25];
            for (int i = 0; i < 25; i++) all[i] = i;
            assertArrayEquals(all, sorted, 0, "every example exactly once");
            assertFalse(e0.equals(e1), "epochs are shuffled differently");
            assertEquals(e1, epochTargets(b, 1), "same seed and epoch give the same order, in any call order");
            assertEquals(e0, epochTargets(b, 0));
            assertFalse(Arrays.equals(a.order(0), new DataLoader(d, 6, true, false, 100).order(0)));
        }
    }
}
