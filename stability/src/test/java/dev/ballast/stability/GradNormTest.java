package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cpu.CpuBackend;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.Backend;
import dev.ballast.stability.clip.GradNorm;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The one-pass norm: fused CPU kernel and composed fallback against a float64 reference, edge cases, determinism. */
class GradNormTest {
    static final Device FUSED = Device.cpu();
    /** The same CPU backend without its fused kernels (multiTensorOps() empty), so the composed path runs. */
    static final Device COMPOSED = new Device((Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
            new Class<?>[]{Backend.class}, (proxy, m, args) -> m.getName().equals("multiTensorOps") ? Optional.empty()
                    : m.invoke(FUSED.backend(), args)));

    final SplittableRandom rng = new SplittableRandom(System.nanoTime());
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    /** Random tensors of mixed sizes, including an empty one and one that spans many chunks. */
    List<double[]> randomSet() {
        int[] sizes = {0, 1, 17, 1000, 65_537, 3, 100_003};
        List<double[]> out = new ArrayList<>();
        for (int n : sizes) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) v[i] = (float) (rng.nextGaussian() * (1 + rng.nextInt(5)));
            out.add(v);
        }
        return out;
    }

    static List<Tensor> tensors(Device d, List<double[]> values) {
        List<Tensor> out = new ArrayList<>();
        for (double[] v : values) out.add(Tensor.fromArray(d, DType.F32, v, v.length));
        return out;
    }

    static double reference(List<double[]> values, double p) {
        double acc = 0;
        for (double[] v : values) for (double x : v) {
            double a = Math.abs(x);
            acc = p == Double.POSITIVE_INFINITY ? Math.max(acc, a) : acc + Math.pow(a, p);
        }
        return p == Double.POSITIVE_INFINITY ? acc : Math.pow(acc, 1 / p);
    }

    @ParameterizedTest
    @ValueSource(doubles = {1, 2, Double.POSITIVE_INFINITY, 3, 0.5})
    void fusedAndComposedMatchFloat64(double p) {
        List<double[]> values = randomSet();
        double want = reference(values, p);
        double maxNorm = want / 3;
        for (Device d : List.of(FUSED, COMPOSED)) {
            double[] out = GradNorm.compute(d, tensors(d, values), maxNorm, p, null).toDoubleArray();
            assertEquals(want, out[GradNorm.NORM], 2e-6 * want, d + " p=" + p);
            assertEquals(maxNorm / (want + 1e-6), out[GradNorm.COEFFICIENT], 2e-6, d + " coefficient");
            assertEquals(0, out[GradNorm.NON_FINITE]);
        }
        assertTrue(FUSED.backend().multiTensorOps().isPresent() && COMPOSED.backend().multiTensorOps().isEmpty());
    }

    @Test void perTensorAccumulatorsAreReported() {
        List<double[]> values = randomSet();
        Tensor per = Tensor.zeros(FUSED, DType.F64, values.size());
        GradNorm.compute(FUSED, tensors(FUSED, values), 1, 2, per);
        double[] got = per.toDoubleArray();
        for (int i = 0; i < values.size(); i++) {
            double sq = 0;
            for (double x : values.get(i)) sq += x * x;
            assertEquals(sq, got[i], 1e-6 * Math.max(sq, 1), "tensor " + i);
        }
    }

    @Test void edgeCases() {
        for (Device d : List.of(FUSED, COMPOSED)) {
            double[] empty = GradNorm.compute(d, List.of(), 1, 2, null).toDoubleArray();
            assertEquals(0, empty[GradNorm.NORM]);
            assertEquals(1, empty[GradNorm.COEFFICIENT], "no gradients: coefficient 1");
            double[] zeros = GradNorm.compute(d, List.of(Tensor.zeros(d, DType.F32, 1000)), 1, 2, null).toDoubleArray();
            assertEquals(0, zeros[GradNorm.NORM]);
            assertEquals(1, zeros[GradNorm.COEFFICIENT], "all-zero gradients: coefficient 1, no NaN");
            List<double[]> bad = randomSet();
            bad.get(3)[7] = Double.POSITIVE_INFINITY;
            double[] inf = GradNorm.compute(d, tensors(d, bad), 1, 2, null).toDoubleArray();
            assertEquals(Double.POSITIVE_INFINITY, inf[GradNorm.NORM], d + ": an infinite value gives an infinite norm");
            assertEquals(0, inf[GradNorm.COEFFICIENT]);
            assertEquals(1, inf[GradNorm.NON_FINITE]);
            bad.get(6)[100_000] = Double.NaN;
            double[] nan = GradNorm.compute(d, tensors(d, bad), 1, 2, null).toDoubleArray();
            assertTrue(Double.isNaN(nan[GradNorm.NORM]), d + ": NaN propagates to the norm");
            assertTrue(Double.isNaN(nan[GradNorm.COEFFICIENT]));
            assertEquals(1, nan[GradNorm.NON_FINITE]);
            double[] big = GradNorm.compute(d, List.of(Tensor.full(d, DType.F32, 1e20, 40)), 1, 2, null).toDoubleArray();
            assertEquals(0, big[GradNorm.NON_FINITE], d + ": squares that overflow are not non-finite gradients");
            double[] nanInf = GradNorm.compute(d, tensors(d, bad), 1, Double.POSITIVE_INFINITY, null).toDoubleArray();
            assertTrue(Double.isNaN(nanInf[GradNorm.NORM]), d + ": NaN propagates through the max norm");
        }
    }

    @Test void halfPrecisionGradientsAreRead() {
        List<double[]> values = randomSet();
        for (DType t : new DType[]{DType.F16, DType.BF16}) {
            List<Tensor> ts = new ArrayList<>();
            List<double[]> rounded = new ArrayList<>();
            for (double[] v : values) {
                Tensor h = Tensor.fromArray(FUSED, t, v, v.length);
                ts.add(h);
                rounded.add(h.toDoubleArray());
            }
            double want = reference(rounded, 2);
            assertEquals(want, GradNorm.compute(FUSED, ts, 1, 2, null).toDoubleArray()[GradNorm.NORM], 2e-6 * want, t.toString());
        }
    }

    @Test void identicalBitsForAnyThreadCount() {
        List<double[]> values = randomSet();
        Double first = null;
        for (int threads : new int[]{1, 2, 7}) {
            Device d = new Device(new CpuBackend(threads));
            double norm = GradNorm.compute(d, tensors(d, values), 1, 2, null).toDoubleArray()[GradNorm.NORM];
            if (first == null) first = norm;
            else assertEquals(Double.doubleToRawLongBits(first), Double.doubleToRawLongBits(norm), "threads=" + threads);
        }
    }
}
