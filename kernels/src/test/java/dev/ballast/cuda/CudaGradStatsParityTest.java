package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.assertClose;
import static dev.ballast.cuda.GpuBackends.download;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The gradient statistics pass ({@code multi_tensor_stats}) against its CPU twin on fresh random inputs: tensors of
 * sizes around the chunk edges, f32/f16/bf16 gradients and weights, planted zeros, NaN, infinities, subnormals and
 * unaligned starts. Counts, maxima and histograms must be equal; sums within float32 accumulation error.
 */
@Tag("gpu")
class CudaGradStatsParityTest {
    private final long seed = Long.getLong("ballast.test.seed", System.nanoTime()); // -Dballast.test.seed=N replays a run
    private final Random rnd = new Random(seed);
    private final List<Storage> owned = new ArrayList<>();

    /** Sizes around the chunk boundaries; the 1M one is 70,001 on a small (emulated) device. */
    private static int[] sizes() {
        return new int[] {0, 1, 7, 1000, 32767, 32768, 32769, 100_003, 5, GpuBackends.sized("largest stats tensor", (1 << 20) + 17, 70_001)};
    }

    @AfterEach
    void release() {
        owned.forEach(Storage::release);
        owned.clear();
    }

    private Strided put(Backend b, DType t, double[] v, int offset) {
        return GpuBackends.uploadAt(b, t, v, offset, 0, owned);
    }

    private double[] values(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble();
            v[i] = u < 0.05 ? 0 : u < 0.06 ? 1e-40 * rnd.nextGaussian() : rnd.nextGaussian() * scale * Math.exp(8 * rnd.nextGaussian());
        }
        if (n > 10) {
            v[rnd.nextInt(n)] = Double.NaN;
            v[rnd.nextInt(n)] = Double.POSITIVE_INFINITY;
            v[rnd.nextInt(n)] = Double.NEGATIVE_INFINITY;
        }
        return v;
    }

    private double[][] run(Backend b, List<double[]> grads, List<double[]> weights, DType[] gt, DType[] wt, int[] offsets) {
        List<Strided> g = new ArrayList<>(), w = weights == null ? null : new ArrayList<>();
        for (int i = 0; i < grads.size(); i++) {
            g.add(put(b, gt[i], grads.get(i), offsets[i]));
            if (w != null) w.add(put(b, wt[i], weights.get(i), offsets[(i + 1) % offsets.length]));
        }
        Strided stats = put(b, DType.F64, new double[grads.size() * GradStatsLayout.COLUMNS], 0);
        Strided hist = put(b, DType.I64, new double[grads.size() * GradStatsLayout.BINS], 0);
        b.multiTensorOps().orElseThrow(() -> new AssertionError(b.name() + " has no MultiTensorOps")).multiTensorStats(g, w, stats, hist);
        return new double[][] {download(stats), download(hist)};
    }

    @Test
    void statsMatchTheCpuTwinOnRandomInputs() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        System.out.println("CudaGradStatsParityTest seed " + seed);
        int[] sizes = sizes();
        DType[] types = {DType.F32, DType.F16, DType.BF16};
        for (boolean withWeights : new boolean[] {true, false}) {
            List<double[]> grads = new ArrayList<>(), weights = new ArrayList<>();
            DType[] gt = new DType[sizes.length], wt = new DType[sizes.length];
            int[] offsets = new int[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                grads.add(values(sizes[i], 1e-3));
                weights.add(values(sizes[i], 0.1));
                gt[i] = types[rnd.nextInt(3)];
                wt[i] = types[rnd.nextInt(3)];
                offsets[i] = rnd.nextInt(3);
            }
            double[][] want = run(cpu, grads, withWeights ? weights : null, gt, wt, offsets);
            double[][] got = run(cuda, grads, withWeights ? weights : null, gt, wt, offsets);
            for (int i = 0; i < sizes.length; i++) {
                int c = GradStatsLayout.COLUMNS, r = i * c;
                String what = "seed " + seed + " tensor " + i + " (" + sizes[i] + " " + gt[i] + ")";
                assertClose(slice(want[0], r, 2), slice(got[0], r, 2), 1e-4, 0, what + " sums of squares");
                assertArrayEquals(slice(want[0], r + 2, 3), slice(got[0], r + 2, 3), what + " max, zeros, non-finite");
                assertArrayEquals(slice(want[1], i * 256, 256), slice(got[1], i * 256, 256), what + " histogram");
            }
        }
    }

    private static double[] slice(double[] a, int from, int n) { return java.util.Arrays.copyOfRange(a, from, from + n); }
}
