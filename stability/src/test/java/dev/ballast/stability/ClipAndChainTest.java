package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.clip.ClipGrad;
import dev.ballast.stability.clip.GradNorm;
import dev.ballast.stability.clip.NonFiniteGradientException;
import dev.ballast.stability.scale.GradScaler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** clipGradNorm / clipGradValue semantics, per-layer clipping, the fused chain against the unfused steps, and the scaler. */
class ClipAndChainTest {
    static final Device CPU = Device.cpu();
    Scope scope;
    final Generator gen = new Generator(System.nanoTime());

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    List<Tensor> params(long[]... shapes) {
        List<Tensor> ps = new ArrayList<>();
        for (long[] s : shapes) {
            Tensor p = Tensor.randn(gen, CPU, s).requiresGrad(true);
            p.setGrad(Tensor.randn(gen, CPU, s).mul(3));
            ps.add(p);
        }
        return ps;
    }

    static double[] flatGrads(List<Tensor> ps) {
        List<Double> all = new ArrayList<>();
        for (Tensor p : ps) if (p.grad() != null) for (double v : p.grad().toDoubleArray()) all.add(v);
        return all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Test void clipGradNormScalesByThePyTorchCoefficient() {
        List<Tensor> ps = params(new long[]{7, 3}, new long[]{11}, new long[]{0});
        Tensor noGrad = Tensor.zeros(CPU, DType.F32, 4).requiresGrad(true);
        List<Tensor> all = new ArrayList<>(ps);
        all.add(noGrad);
        double[] before = flatGrads(ps);
        double sq = 0;
        for (double v : before) sq += v * v;
        double norm = Math.sqrt(sq);
        Tensor total = ClipGrad.clipGradNorm(all, 1.0, 2);
        assertEquals(0, total.rank(), "the norm comes back as a 0-d device tensor");
        assertEquals(norm, total.item(), 1e-5 * norm);
        double coef = Math.min(1.0 / (norm + 1e-6), 1);
        double[] after = flatGrads(ps);
        for (int i = 0; i < before.length; i++) assertEquals(before[i] * coef, after[i], 1e-6 * Math.abs(before[i]) + 1e-7);
        assertNull(noGrad.grad(), "parameters without gradients are skipped");
        // a large maxNorm leaves gradients as they were
        double[] again = flatGrads(ps);
        ClipGrad.clipGradNorm(all, 1e9, 2);
        assertArrayEquals(again, flatGrads(ps), 1e-7);
    }

    @Test void errorIfNonfiniteNamesTheParameterAndLeavesGradientsAlone() {
        List<Tensor> ps = params(new long[]{5}, new long[]{3});
        ps.get(1).setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{1, Double.NaN, 2}, 3));
        double[] before = ps.getFirst().grad().toDoubleArray();
        var e = assertThrows(NonFiniteGradientException.class, () -> ClipGrad.clipGradNorm(ps, 1, 2, true));
        assertEquals(1, e.parameterIndex());
        assertTrue(e.getMessage().contains("parameter 1"), e.getMessage());
        assertArrayEquals(before, ps.getFirst().grad().toDoubleArray());
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("fc.weight", ps.get(0));
        named.put("fc.bias", ps.get(1));
        var e2 = assertThrows(NonFiniteGradientException.class, () -> ClipGrad.clipGradNorm(named, 1, 2, true));
        assertEquals("fc.bias", e2.parameterName());
        assertTrue(e2.getMessage().contains("fc.bias"), e2.getMessage());
        // without the option, PyTorch semantics: NaN norm, NaN gradients
        assertTrue(Double.isNaN(ClipGrad.clipGradNorm(ps, 1, 2).item()));
        assertTrue(Double.isNaN(ps.getFirst().grad().toDoubleArray()[0]));
    }

    @Test void clipGradValueAndPerLayer() {
        List<Tensor> ps = params(new long[]{50});
        ClipGrad.clipGradValue(ps, 0.5);
        for (double v : ps.getFirst().grad().toDoubleArray()) assertTrue(Math.abs(v) <= 0.5);
        assertThrows(IllegalArgumentException.class, () -> ClipGrad.clipGradValue(ps, -1));

        List<Tensor> layers = params(new long[]{4, 4}, new long[]{4}, new long[]{8, 4}, new long[]{8});
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("fc1.weight", layers.get(0));
        named.put("fc1.bias", layers.get(1));
        named.put("fc2.weight", layers.get(2));
        named.put("fc2.bias", layers.get(3));
        Map<String, Tensor> norms = ClipGrad.clipGradNormPerLayer(named, 0.1, 2);
        assertEquals(List.of("fc1", "fc2"), List.copyOf(norms.keySet()));
        for (List<Tensor> layer : List.of(layers.subList(0, 2), layers.subList(2, 4))) {
            double sq = 0;
            for (double v : flatGrads(layer)) sq += v * v;
            assertEquals(0.1, Math.sqrt(sq), 1e-5, "each layer is clipped to the max norm on its own");
        }
    }

    @Test void fusedChainEqualsClipThenAdamW() {
        long[][] shapes = {{33, 17}, {17}, {5000}};
        List<Tensor> a = params(shapes), b = new ArrayList<>();
        for (Tensor p : a) {
            Tensor q = p.detach().copy().requiresGrad(true);
            Scope.detachFromScopes(q);
            q.setGrad(p.grad().copy());
            b.add(q);
        }
        AdamW fused = new AdamW(a, 1e-2), plain = new AdamW(b, 1e-2);
        GradientChain chain = GradientChain.of(Link.clipByGlobalNorm(1.0), Link.apply(fused));
        for (int step = 0; step < 3; step++) {
            double norm = chain.step().norm();
            double expectNorm = ClipGrad.clipGradNorm(b, 1.0, 2).item();
            assertEquals(expectNorm, norm, 1e-5 * expectNorm);
            plain.step();
            for (int i = 0; i < a.size(); i++)
                assertArrayEquals(b.get(i).toDoubleArray(), a.get(i).toDoubleArray(), 2e-6, "param " + i + " step " + step);
            for (int i = 0; i < a.size(); i++) {
                Tensor g = Tensor.randn(gen, CPU, shapes[i]).mul(5);
                a.get(i).setGrad(g.copy());
                b.get(i).setGrad(g.copy());
            }
        }
        assertEquals(3, fused.stepCount());
    }

    @Test void skipIfNonFiniteLeavesEverythingBitIdentical() {
        List<Tensor> ps = params(new long[]{64}, new long[]{8, 8});
        AdamW opt = new AdamW(ps, 1e-2);
        GradientChain chain = GradientChain.of(Link.clipByGlobalNorm(1.0), Link.skipIfNonFinite(), Link.apply(opt));
        chain.step(); // one good step creates the moments
        Map<String, double[]> before = snapshot(ps, opt);
        ps.get(1).setGrad(Tensor.full(CPU, DType.F32, Double.POSITIVE_INFINITY, 8, 8));
        var stats = chain.step().read();
        assertTrue(stats.nonFinite());
        assertTrue(stats.skipped());
        assertEquals(1, stats.consecutiveSkips());
        Map<String, double[]> after = snapshot(ps, opt);
        for (var e : before.entrySet()) {
            double[] x = e.getValue(), y = after.get(e.getKey());
            for (int i = 0; i < x.length; i++)
                assertEquals(Double.doubleToRawLongBits(x[i]), Double.doubleToRawLongBits(y[i]), e.getKey() + "[" + i + "]");
        }
        assertEquals(1, opt.stepCount(), "a skipped step does not advance the counter");
    }

    private static Map<String, double[]> snapshot(List<Tensor> ps, AdamW opt) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (int i = 0; i < ps.size(); i++) m.put("param." + i, ps.get(i).toDoubleArray());
        for (var e : opt.stateDict().entrySet()) m.put(e.getKey(), e.getValue().toDoubleArray());
        return m;
    }

    @Test void scalerUnscalesBacksOffAndGrows() {
        GradScaler scaler = new GradScaler(CPU, 1024, 2, 0.5, 2);
        Tensor w = Tensor.fromArray(CPU, DType.F32, new double[]{1, 1}, 2).requiresGrad(true);
        SGD sgd = new SGD(List.of(w), 0.1);
        GradientChain chain = GradientChain.of(Link.unscale(scaler), Link.apply(sgd));
        w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{1024, -2048}, 2)); // true gradient (1, -2)
        chain.step();
        assertArrayEquals(new double[]{0.9, 1.2}, w.toDoubleArray(), 1e-6, "the update uses the unscaled gradient");
        w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{Double.NaN, 0}, 2));
        chain.step();
        assertArrayEquals(new double[]{0.9, 1.2}, w.toDoubleArray(), 1e-6, "a non-finite step is skipped");
        assertEquals(512, scaler.scale().item(), "and the scale backs off");
        for (int i = 0; i < 2; i++) {
            w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{0, 0}, 2));
            chain.step();
        }
        assertEquals(1024, scaler.scale().item(), "two finite steps in a row grow it back");
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(CPU, 1024, 0.5, 0.5, 2));
    }

    @Test void adaptiveClippingBoundsEachUnitByItsWeight() {
        Tensor w = Tensor.randn(gen, CPU, 6, 5).requiresGrad(true);
        Tensor b = Tensor.randn(gen, CPU, 6).requiresGrad(true);
        w.setGrad(Tensor.randn(gen, CPU, 6, 5).mul(10));
        b.setGrad(Tensor.randn(gen, CPU, 6).mul(1e-4));
        double[] wv = w.toDoubleArray(), gv = w.grad().toDoubleArray(), bg = b.grad().toDoubleArray();
        ClipGrad.adaptiveClipGrad(List.of(w, b), 0.05, 1e-3);
        double[] after = w.grad().toDoubleArray();
        for (int r = 0; r < 6; r++) {
            double wn = 0, gn = 0;
            for (int c = 0; c < 5; c++) { wn += wv[r * 5 + c] * wv[r * 5 + c]; gn += gv[r * 5 + c] * gv[r * 5 + c]; }
            double factor = Math.min(1, 0.05 * Math.max(Math.sqrt(wn), 1e-3) / Math.max(Math.sqrt(gn), 1e-6));
            for (int c = 0; c < 5; c++) assertEquals(gv[r * 5 + c] * factor, after[r * 5 + c], 1e-5 * Math.abs(gv[r * 5 + c]) + 1e-7);
        }
        assertArrayEquals(bg, b.grad().toDoubleArray(), 1e-12, "a gradient already small against its weight is untouched");
        assertThrows(IllegalArgumentException.class, () -> Link.adaptiveClip(0));
    }

    @Test void chainMustEndWithTheOptimizer() {
        SGD sgd = new SGD(params(new long[]{2}), 0.1);
        assertThrows(IllegalArgumentException.class, () -> GradientChain.of(Link.apply(sgd), Link.clipByGlobalNorm(1)));
        assertThrows(IllegalStateException.class, () -> GradientChain.of(Link.clipByGlobalNorm(1)).step(),
                "a chain without apply can only be nested");
        assertThrows(IllegalArgumentException.class, () -> Link.clipByGlobalNorm(-1));
    }
}
