package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU gradient statistics pass against a float64 reference computed here from the same (rounded) values, on
 * random tensors with planted zeros, subnormals, NaN and infinities, in f32/f16/bf16; the same bits for 1, 2 and 7
 * threads; and clear errors for bad arguments.
 */
class GradStatsTest {
    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);

    private double[] values(DType t, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble();
            v[i] = u < 0.05 ? 0 : u < 0.07 ? 1e-41 * (1 + rnd.nextDouble()) : rnd.nextGaussian() * scale * Math.exp(6 * rnd.nextGaussian());
        }
        if (n > 10) {
            v[rnd.nextInt(n)] = Double.NaN;
            v[rnd.nextInt(n)] = Double.NEGATIVE_INFINITY;
        }
        return TestSupport.representable(t, v);
    }

    private record Case(List<double[]> grads, List<double[]> weights, DType[] types) {}

    private Case randomCase(int[] sizes) {
        DType[] all = {DType.F32, DType.F16, DType.BF16};
        List<double[]> g = new ArrayList<>(), w = new ArrayList<>();
        DType[] types = new DType[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            types[i] = all[rnd.nextInt(3)];
            g.add(values(types[i], sizes[i], 1e-3));
            w.add(values(DType.F32, sizes[i], 0.1));
        }
        return new Case(g, w, types);
    }

    private static double[][] run(CpuBackend be, Case c, boolean withWeights) {
        List<Strided> g = new ArrayList<>(), w = new ArrayList<>();
        for (int i = 0; i < c.grads().size(); i++) {
            g.add(TestSupport.tensor(be, c.types()[i], c.grads().get(i), c.grads().get(i).length));
            w.add(TestSupport.tensor(be, DType.F32, c.weights().get(i), c.weights().get(i).length));
        }
        int n = g.size();
        Strided stats = TestSupport.empty(be, DType.F64, (long) n * GradStatsLayout.COLUMNS);
        Strided hist = TestSupport.empty(be, DType.I64, (long) n * GradStatsLayout.BINS);
        be.multiTensorOps().orElseThrow().multiTensorStats(g, withWeights ? w : null, stats, hist);
        long[] h = TestSupport.readLongs(hist);
        double[] hd = new double[h.length];
        for (int i = 0; i < h.length; i++) hd[i] = h[i];
        return new double[][] {TestSupport.read(stats), hd};
    }

    @Test
    void matchesAFloat64ReferenceWithPlantedSpecialValues() {
        System.out.println("GradStatsTest seed " + seed);
        int[] sizes = {0, 1, 9, 1000, 32768, 32769, 70_001};
        Case c = randomCase(sizes);
        double[][] got = run(TestSupport.CPU, c, true);
        for (int i = 0; i < sizes.length; i++) {
            double gsq = 0, wsq = 0, max = 0, zeros = 0, bad = 0;
            long[] hist = new long[GradStatsLayout.BINS];
            for (int e = 0; e < sizes[i]; e++) {
                double x = c.grads().get(i)[e], w = c.weights().get(i)[e];
                if (Double.isFinite(w)) wsq += w * w;
                hist[binOf(x)]++;
                if (!Double.isFinite(x)) { bad++; continue; }
                if (x == 0) zeros++;
                max = Math.max(max, Math.abs(x));
                gsq += x * x;
            }
            String what = "seed " + seed + " tensor " + i + " " + c.types()[i];
            int r = i * GradStatsLayout.COLUMNS;
            assertEquals(gsq, got[0][r + GradStatsLayout.GRAD_SUMSQ], 1e-12 * gsq, what + " grad sumsq");
            assertEquals(wsq, got[0][r + GradStatsLayout.WEIGHT_SUMSQ], 1e-12 * wsq, what + " weight sumsq");
            assertEquals(max, got[0][r + GradStatsLayout.GRAD_MAX_ABS], what + " max |g|");
            assertEquals(zeros, got[0][r + GradStatsLayout.ZEROS], what + " zeros");
            assertEquals(bad, got[0][r + GradStatsLayout.NON_FINITE], what + " non-finite");
            for (int b = 0; b < GradStatsLayout.BINS; b++)
                assertEquals(hist[b], (long) got[1][i * GradStatsLayout.BINS + b], what + " histogram bin " + b);
            if (sizes[i] > 10) {
                assertTrue(bad >= 1 && zeros > 0, what + ": the planted values are there");
                assertTrue(hist[GradStatsLayout.BIN_NON_FINITE] == bad, what);
            }
        }
    }

    /** The bin from the double's own exponent (an independent formula from the bit trick under test). */
    private static int binOf(double x) {
        if (!Double.isFinite(x)) return GradStatsLayout.BIN_NON_FINITE;
        double a = Math.abs((float) x);
        if (a < 0x1p-126) return GradStatsLayout.BIN_ZERO;
        return GradStatsLayout.binOfExponent(Math.getExponent(a));
    }

    @Test
    void withoutWeightsTheWeightNormIsZeroAndTheRestUnchanged() {
        Case c = randomCase(new int[] {5000, 40_000});
        double[][] with = run(TestSupport.CPU, c, true), without = run(TestSupport.CPU, c, false);
        for (int i = 0; i < 2; i++) {
            int r = i * GradStatsLayout.COLUMNS;
            assertEquals(0, without[0][r + GradStatsLayout.WEIGHT_SUMSQ]);
            assertEquals(with[0][r + GradStatsLayout.GRAD_SUMSQ], without[0][r + GradStatsLayout.GRAD_SUMSQ]);
        }
        assertArrayEquals(with[1], without[1]);
    }

    @Test
    void sameBitsForAnyThreadCount() {
        Case c = randomCase(new int[] {3, 70_000, 32768, 100_001});
        double[][] one = run(new CpuBackend(1), c, true);
        for (int threads : new int[] {2, 7}) {
            double[][] t = run(new CpuBackend(threads), c, true);
            assertArrayEquals(one[0], t[0], threads + " threads: stats");
            assertArrayEquals(one[1], t[1], threads + " threads: histogram");
        }
    }

    @Test
    void badArgumentsAreNamed() {
        Strided g = TestSupport.tensor(DType.F32, new double[] {1, 2, 3}, 3);
        Strided w = TestSupport.tensor(DType.F32, new double[] {1, 2}, 2);
        Strided stats = TestSupport.empty(DType.F64, GradStatsLayout.COLUMNS);
        Strided hist = TestSupport.empty(DType.I64, GradStatsLayout.BINS);
        var e = assertThrows(IllegalArgumentException.class, () -> TestSupport.CPU.multiTensorOps().orElseThrow().multiTensorStats(List.of(g), List.of(w), stats, hist));
        assertTrue(e.getMessage().contains("gradient 0 has 3 elements but its weight has 2"), e.getMessage());
        Strided small = TestSupport.empty(DType.F64, 2);
        e = assertThrows(IllegalArgumentException.class, () -> TestSupport.CPU.multiTensorOps().orElseThrow().multiTensorStats(List.of(g), null, small, hist));
        assertTrue(e.getMessage().contains("stats must be 5 contiguous f64 elements"), e.getMessage());
        Strided ints = TestSupport.tensor(DType.I32, new double[] {1, 2, 3}, 3);
        e = assertThrows(IllegalArgumentException.class, () -> TestSupport.CPU.multiTensorOps().orElseThrow().multiTensorStats(List.of(ints), null, stats, hist));
        assertTrue(e.getMessage().contains("gradient 0 must be f32, f16 or bf16, got I32"), e.getMessage());
    }
}
