package dev.ballast.stability.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.optim.SGD;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** GradStats against host arithmetic, the monitor's cadence and update ratios, provenance, and histogram queries. */
class GradientMonitorTest {
    static final Device CPU = Device.cpu();
    final long seed = System.nanoTime();
    final Generator gen = new Generator(seed);
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    private Map<String, Tensor> params() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("layer0.weight", Tensor.randn(gen, CPU, 30, 20).requiresGrad(true));
        m.put("layer0.bias", Tensor.randn(gen, CPU, 30).requiresGrad(true));
        m.put("layer1.weight", Tensor.randn(gen, CPU, 5, 30).mul(0.1).detach().requiresGrad(true));
        for (Tensor p : m.values()) p.setGrad(Tensor.randn(gen, CPU, p.shape()).mul(1e-2));
        return m;
    }

    @Test
    void statsAgreeWithHostArithmetic() {
        System.out.println("GradientMonitorTest seed " + seed);
        Map<String, Tensor> m = params();
        float[] g = m.get("layer0.bias").grad().toFloatArray();
        g[3] = 0;
        g[7] = Float.NaN;
        m.get("layer0.bias").grad().copyFrom(Tensor.fromArray(CPU, g, 30));
        try (GradStats.Pending p = GradStats.compute(m)) {
            List<ParamStats> stats = p.read();
            assertEquals(List.of("layer0.weight", "layer0.bias", "layer1.weight"), stats.stream().map(ParamStats::name).toList());
            ParamStats bias = stats.get(1);
            double sq = 0, max = 0, wsq = 0;
            float[] w = m.get("layer0.bias").toFloatArray();
            for (int i = 0; i < g.length; i++) {
                wsq += (double) w[i] * w[i];
                if (!Float.isFinite(g[i])) continue;
                sq += (double) g[i] * g[i];
                max = Math.max(max, Math.abs(g[i]));
            }
            assertEquals(Math.sqrt(sq), bias.gradNorm(), 1e-12 * Math.sqrt(sq), "seed " + seed);
            assertEquals(Math.sqrt(wsq), bias.weightNorm(), 1e-12 * Math.sqrt(wsq));
            assertEquals(max, bias.maxAbsGrad());
            assertEquals(1, bias.zeros());
            assertEquals(1, bias.nonFinite());
            assertEquals(1.0 / 30, bias.nonFiniteFraction(), 1e-15);
            assertEquals(30, bias.histogram().total());
            assertEquals(28, bias.histogram().nonZeroFinite());
            assertTrue(Double.isNaN(bias.updateRatio()), "not measured by a plain pass");
        }
    }

    @Test
    void monitorReadsOnlyDueStepsAndMeasuresTheUpdateRatio() {
        Map<String, Tensor> m = params();
        List<Tensor> list = List.copyOf(m.values());
        SGD sgd = new SGD(list, 0.5);
        GradientMonitor mon = new GradientMonitor(m, 3);
        for (long step = 1; step <= 6; step++) {
            mon.beforeStep(step);
            double w0 = m.get("layer1.weight").to(DType.F64).square().sum().sqrt().item();
            double g0 = m.get("layer1.weight").grad().to(DType.F64).square().sum().sqrt().item();
            sgd.step();
            HealthSnapshot s = mon.afterStep(step);
            if (step % 3 != 0) {
                assertNull(s, "step " + step + " is not due");
                continue;
            }
            assertNotNull(s);
            assertEquals(step, s.step());
            // plain SGD: the update is lr * g, so the ratio is lr * ||g|| / ||w||
            assertEquals(0.5 * g0 / w0, s.param("layer1.weight").updateRatio(), 1e-6 * 0.5 * g0 / w0);
        }
        assertEquals(2, mon.history().size());
        assertNull(mon.firstNonFinite());
    }

    @Test
    void firstNonFiniteNamesTheParameterNearestTheLoss() {
        Map<String, Tensor> m = params();
        GradientMonitor mon = new GradientMonitor(m, 100);
        mon.inspect(1);
        assertNull(mon.firstNonFinite());
        m.get("layer0.weight").grad().copyFrom(m.get("layer0.weight").grad().mul(Double.POSITIVE_INFINITY));
        m.get("layer1.weight").grad().copyFrom(m.get("layer1.weight").grad().div(0.0).mul(0.0)); // all NaN
        mon.inspect(2);
        NonFiniteOrigin o = mon.firstNonFinite();
        assertEquals(2, o.step());
        assertEquals("layer1.weight", o.parameter());
        assertEquals(150, o.count());
        assertEquals(List.of("layer0.weight", "layer1.weight"), o.affected());
        mon.attributeNonFinite(2, "div", "layer1", true);
        assertTrue(mon.firstNonFinite().describe().contains("produced by op 'div' in backward in module 'layer1'"),
                mon.firstNonFinite().describe());
    }

    @Test
    void histogramQueriesCountByPowerOfTwo() {
        Tensor p = Tensor.zeros(CPU, DType.F32, 6).requiresGrad(true);
        // 0, 2^-30 (below fp16's smallest subnormal 2^-24), 2^-20 (an fp16 subnormal), 0.75, 3, 70000 (above fp16's max)
        p.setGrad(Tensor.fromArray(CPU, new float[] {0, 0x1p-30f, 0x1p-20f, 0.75f, 3f, 70000f}, 6));
        try (GradStats.Pending s = GradStats.compute(Map.of("p", p))) {
            Log2Histogram h = s.read().getFirst().histogram();
            assertEquals(1, h.zeros());
            assertEquals(5, h.nonZeroFinite());
            assertEquals(1, h.count(GradStatsLayout.binOfExponent(-30)));
            assertEquals(1, h.count(GradStatsLayout.binOfExponent(-1)));
            assertEquals(1, h.countBelow(-24));
            assertEquals(2, h.countBelow(-14));
            assertEquals(1, h.countAtOrAbove(16));
            assertEquals(0.2, h.fractionBelow(-24), 1e-15);
            assertEquals(4.0, h.quantileUpperEdge(0.8), "0.75 and 3 lie below 2^2");
        }
        assertThrows(IllegalArgumentException.class, () -> Log2Histogram.empty().countBelow(200));
    }
}
