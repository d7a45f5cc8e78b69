package dev.ballast.stability.chain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.optim.SGD;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * ZClip and AutoClip as chain links, against float64 references of their rules on a stream of gradient norms near 1
 * with injected spikes: the coefficient of every step matches the reference, the spike is cut, normal steps get
 * exactly 1, skipped and non-finite steps leave the state alone, and the state survives a checkpoint.
 */
class AdaptiveClipLinksTest {
    static final Device CPU = Device.cpu();

    /** A stream of norms: noise around 1, spikes x50 at 70 and x20 at 90, a NaN at 80. */
    static double[] norms(long seed, int n) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = 1 + 0.05 * r.nextGaussian();
        v[70] = 50;
        v[80] = Double.NaN;
        v[90] = 20;
        return v;
    }

    /** One parameter pair with fresh gradients of global L2 norm {@code norm} (NaN: a NaN element). */
    static void setGrads(Generator gen, List<Tensor> params, double norm) {
        List<Tensor> gs = new ArrayList<>();
        double sq = 0;
        for (Tensor p : params) {
            Tensor g = Tensor.randn(gen, CPU, p.shape());
            sq += g.square().sum().item();
            gs.add(g);
        }
        double f = Double.isNaN(norm) ? 1 : norm / Math.sqrt(sq);
        for (int i = 0; i < params.size(); i++) {
            Tensor g = gs.get(i).mul(f);
            if (Double.isNaN(norm) && i == 0) g = g.add(Tensor.fromArray(CPU, DType.F32, nanAt0(g.numel()), g.shape()));
            params.get(i).setGrad(g.detach());
        }
    }

    private static double[] nanAt0(long n) {
        double[] a = new double[(int) n];
        a[0] = Double.NaN;
        return a;
    }

    static List<Tensor> params(Generator gen) {
        return List.of(Tensor.randn(gen, CPU, 30, 10).requiresGrad(true), Tensor.randn(gen, CPU, 10).requiresGrad(true));
    }

    /** Runs {@code link} (after a skip of non-finite steps) over the norms; returns each step's coefficient and the chain. */
    static double[] run(Link link, double[] norms, long seed, List<Tensor> params, GradientChain[] keep) {
        Generator gen = new Generator(seed);
        SGD opt = new SGD(params, 0.0, 0, 0, 0, false); // lr 0: the weights stay, only the coefficients matter
        GradientChain chain = GradientChain.of(Link.skipIfNonFinite(), link, Link.apply(opt));
        double[] coef = new double[norms.length];
        for (int i = 0; i < norms.length; i++) {
            setGrads(gen, params, norms[i]);
            coef[i] = chain.step().read().coefficient();
        }
        keep[0] = chain;
        return coef;
    }

    /** ZClip's rule in float64: Welford warm-up, then EMA z-scores, the reciprocal clip, the EMA of the clipped norm. */
    static double[] zclipReference(double[] norms, double zt, double alpha, int warmup) {
        double mean = 0, var = 0, m2 = 0;
        int seen = 0;
        double[] coef = new double[norms.length];
        for (int i = 0; i < norms.length; i++) {
            double g = norms[i];
            coef[i] = 1;
            if (!Double.isFinite(g)) continue;
            if (seen < warmup) {
                int n = seen + 1;
                double d = g - mean;
                mean += d / n;
                m2 += d * (g - mean);
                if (n >= warmup) var = m2 / n;
            } else {
                double std = Math.max(Math.sqrt(var), 1e-12), z = (g - mean) / std;
                double after = g;
                if (z > zt) {
                    after = mean + zt * zt / z * std;
                    coef[i] = after / (g + 1e-6);
                }
                double newMean = alpha * mean + (1 - alpha) * after;
                var = alpha * var + (1 - alpha) * (after - newMean) * (after - newMean);
                mean = newMean;
            }
            seen++;
        }
        return coef;
    }

    /** AutoClip's rule in float64: the percentile of the last {@code window} finite norms, this one included. */
    static double[] autoclipReference(double[] norms, double p, int window) {
        List<Double> hist = new ArrayList<>();
        double[] coef = new double[norms.length];
        for (int i = 0; i < norms.length; i++) {
            double g = norms[i];
            coef[i] = 1;
            if (!Double.isFinite(g)) continue;
            hist.add(g);
            if (hist.size() > window) hist.removeFirst();
            double t = AutoClip.percentile(hist.stream().mapToDouble(Double::doubleValue).toArray(), p);
            if (g > t) coef[i] = t / (g + 1e-6);
        }
        return coef;
    }

    private static void assertMatches(double[] ref, double[] got, String what) {
        for (int i = 0; i < ref.length; i++) {
            if (ref[i] == 1) assertEquals(1.0, got[i], 0, what + ": step " + i + " is left alone");
            else assertEquals(ref[i], got[i], 1e-5 * ref[i] + 1e-7, what + ": step " + i + " coefficient");
        }
    }

    @Test void zclipMatchesItsFloat64RuleCutsSpikesAndLeavesNormalStepsAlone() {
        long seed = System.nanoTime();
        System.out.println("zclip seed " + seed);
        double[] n = norms(seed, 120);
        try (Scope s = Scope.open()) {
            GradientChain[] chain = new GradientChain[1];
            double[] got = run(new ZClip(2.5, 0.97, 25), n, seed, params(new Generator(seed)), chain);
            double[] ref = zclipReference(n, 2.5, 0.97, 25);
            assertMatches(ref, got, "zclip (seed " + seed + ")");
            assertTrue(got[70] < 0.05 && got[90] < 0.1, "the spikes are cut: " + got[70] + ", " + got[90]);
            chain[0].close();
        }
    }

    @Test void autoclipMatchesItsFloat64RuleWithAFullHistoryAndASlidingWindow() {
        long seed = System.nanoTime();
        System.out.println("autoclip seed " + seed);
        double[] n = norms(seed, 120);
        for (int window : new int[] {AutoClip.DEFAULT_HISTORY, 16}) {
            try (Scope s = Scope.open()) {
                GradientChain[] chain = new GradientChain[1];
                double[] got = run(new AutoClip(90, window), n, seed, params(new Generator(seed)), chain);
                assertMatches(autoclipReference(n, 90, window), got, "autoclip window " + window + " (seed " + seed + ")");
                assertTrue(got[70] < 0.05, "the spike is cut to the 90th percentile: " + got[70]);
                chain[0].close();
            }
        }
        assertEquals(3.5, AutoClip.percentile(new double[] {1, 2, 3, 4, 5, 6}, 50), 1e-12, "numpy's linear interpolation");
        assertThrows(IllegalArgumentException.class, () -> new AutoClip(0, 10));
        assertThrows(IllegalArgumentException.class, () -> new ZClip(-1, 0.97, 25));
    }

    /** Half the run, a checkpoint, a fresh chain loaded from it: the rest of the run gives the same coefficients. */
    @Test void stateRoundTripsThroughACheckpoint() throws Exception {
        long seed = System.nanoTime();
        System.out.println("adaptive clip checkpoint seed " + seed);
        double[] n = norms(seed, 120);
        Path dir = Files.createTempDirectory("adaptive-clip");
        for (Supplier<Link> make : List.<Supplier<Link>>of(() -> new ZClip(2.5, 0.97, 25), () -> new AutoClip(90, 16))) {
            try (Scope s = Scope.open()) {
                List<Tensor> params = params(new Generator(seed));
                Map<String, Tensor> model = new LinkedHashMap<>();
                for (int i = 0; i < params.size(); i++) model.put("p" + i, params.get(i));
                SGD opt = new SGD(params, 0.0, 0, 0, 0, false);
                GradientChain whole = GradientChain.of(Link.skipIfNonFinite(), make.get(), Link.apply(opt));
                Generator gen = new Generator(seed + 1);
                double[] all = new double[n.length];
                Path file = dir.resolve("c.safetensors");
                for (int i = 0; i < n.length; i++) {
                    setGrads(gen, params, n[i]);
                    all[i] = whole.step().read().coefficient();
                    if (i == 74) Checkpoint.save(file, model, opt, i + 1, null, whole.stateDict());
                }
                SGD opt2 = new SGD(params, 0.0, 0, 0, 0, false);
                GradientChain resumed = GradientChain.of(Link.skipIfNonFinite(), make.get(), Link.apply(opt2));
                Checkpoint.load(file, model, opt2, null, resumed.stateDict());
                Generator gen2 = new Generator(seed + 1);
                for (int i = 0; i < n.length; i++) {
                    setGrads(gen2, params, n[i]); // the same gradients in the same order
                    if (i <= 74) continue;
                    assertEquals(all[i], resumed.step().read().coefficient(), 0, make.get() + " step " + i + " after the restore");
                }
                for (var e : whole.stateDict().entrySet())
                    assertArrayEquals(e.getValue().toDoubleArray(), resumed.stateDict().get(e.getKey()).toDoubleArray(), 0, e.getKey());
                whole.close();
                resumed.close();
            }
        }
    }
}
