package dev.ballast.stability.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.backend.GradStatsLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Findings from synthetic monitor histories: each kind fires on its pattern, with numbers and cures, and not on a healthy run. */
class DiagnosisTest {
    private static final ModelTraits PLAIN_TANH = new ModelTraits(false, false, false, false, "tanh", 0.1, 0, false);
    private static final ModelTraits RNN = new ModelTraits(true, false, false, false, "tanh", 0.1, 0, false);

    /** A histogram of n values all in [2^e, 2^(e+1)). */
    static Log2Histogram at(int e, long n) {
        long[] c = new long[GradStatsLayout.BINS];
        c[GradStatsLayout.binOfExponent(e)] = n;
        return new Log2Histogram(c, 0);
    }

    static ParamStats p(String name, double gradNorm, double weightNorm) {
        return new ParamStats(name, 100, gradNorm, weightNorm, gradNorm / 5, 0, 0, 1e-3, at(Math.getExponent(gradNorm / 10), 100));
    }

    static HealthSnapshot snap(long step, double... gradNorms) {
        List<ParamStats> ps = new ArrayList<>();
        for (int i = 0; i < gradNorms.length; i++) ps.add(p("layer" + i + ".weight", gradNorms[i], 1));
        return new HealthSnapshot(step, ps);
    }

    @Test
    void healthyRunHasNoFindings() {
        List<HealthSnapshot> h = List.of(snap(10, 1, 1.1, 0.9), snap(20, 0.8, 1, 1), snap(30, 1.2, 1, 1.1));
        assertEquals(List.of(), Diagnosis.diagnose(h, null, 0, Double.NaN, PLAIN_TANH));
    }

    @Test
    void globalNormGrowingOverStepsIsExplodingWithAClipSuggestion() {
        List<HealthSnapshot> h = List.of(snap(10, 1, 0.5), snap(20, 1.2, 0.5), snap(30, 1.1, 0.6), snap(40, 50, 0.6), snap(50, 4000, 1));
        List<Finding> f = Diagnosis.diagnose(h, null, 0, Double.NaN, RNN);
        Finding e = f.stream().filter(x -> x.kind().equals("exploding")).findFirst().orElseThrow();
        assertEquals("layer0.weight", e.where(), "the parameter whose norm rose most");
        assertTrue(e.seen().contains("grew from 1.12 (step 10) to 4.00e+03 (step 50)"), e.seen());
        double clip = (double) e.numbers().get("suggested_clip");
        assertTrue(clip >= 1.1 && clip <= 1.4, "the clip comes from the norms before the growth: " + clip);
        assertTrue(e.cures().stream().anyMatch(c -> c.contains("gated recurrent cells")), e.cures().toString());
        assertTrue(e.cures().stream().anyMatch(c -> c.contains("--clip 1.")), e.cures().toString());
        assertTrue(e.line().startsWith("diagnosis: exploding: "), e.line());
        assertEquals("exploding", e.toJson().get("finding"));
    }

    @Test
    void normsShrinkingTowardsTheInputAreVanishing() {
        List<HealthSnapshot> h = List.of(snap(10, 1e-6, 1e-4, 1e-2, 1), snap(20, 1e-6, 1e-4, 1e-2, 1));
        List<Finding> f = Diagnosis.diagnose(h, null, 0, Double.NaN, PLAIN_TANH);
        assertEquals(1, f.size(), f.toString());
        Finding v = f.getFirst();
        assertEquals("vanishing", v.kind());
        assertEquals("layer0.weight", v.where());
        assertTrue(v.seen().contains("x1.00e-06 over 4 weight layers"), v.seen());
        assertTrue(v.cures().contains("ReLU instead of tanh"), v.cures().toString());
        assertTrue(v.cures().contains("residual connections"));
    }

    @Test
    void normsGrowingTowardsTheInputAreExplodingLayerwise() {
        List<HealthSnapshot> h = List.of(snap(10, 1e3, 10, 1), snap(20, 1e3, 10, 1));
        Finding e = Diagnosis.diagnose(h, null, 0, Double.NaN, PLAIN_TANH).getFirst();
        assertEquals("exploding", e.kind());
        assertTrue(e.seen().startsWith("gradient norms grow towards the input"), e.seen());
    }

    @Test
    void exactZerosAreDeadUnitsForReluAndSaturationForTanh() {
        ParamStats dead = new ParamStats("body.2.weight", 1000, 0.1, 1, 0.05, 800, 0, 1e-3, deadHist());
        HealthSnapshot s = new HealthSnapshot(10, List.of(p("body.0.weight", 0.1, 1), dead, p("head.weight", 0.1, 1)));
        ModelTraits relu = new ModelTraits(false, false, false, false, "relu", 0.01, 0, false);
        Finding d = Diagnosis.diagnose(List.of(s), null, 0, Double.NaN, relu).getFirst();
        assertEquals("dead-units", d.kind());
        assertTrue(d.seen().contains("'body.2.weight' with 80.0% (800 of 1000)"), d.seen());
        assertTrue(d.cures().contains("He (Kaiming) initialization"));
        Finding t = Diagnosis.diagnose(List.of(s), null, 0, Double.NaN, PLAIN_TANH).getFirst();
        assertEquals("saturation", t.kind());
    }

    private static Log2Histogram deadHist() {
        long[] c = new long[GradStatsLayout.BINS];
        c[0] = 800;
        c[GradStatsLayout.binOfExponent(-6)] = 200;
        return new Log2Histogram(c, 800);
    }

    @Test
    void mostGradientsFarBelowTheLargestIsSaturation() {
        long[] c = new long[GradStatsLayout.BINS];
        c[GradStatsLayout.binOfExponent(-40)] = 90;
        c[GradStatsLayout.binOfExponent(-2)] = 10;
        ParamStats sat = new ParamStats("body.1.weight", 100, 0.5, 1, 0.3, 0, 0, 1e-3, new Log2Histogram(c, 0));
        HealthSnapshot s = new HealthSnapshot(10, List.of(p("body.0.weight", 0.1, 1), sat, p("head.weight", 0.1, 1)));
        Finding f = Diagnosis.diagnose(List.of(s), null, 0, Double.NaN, PLAIN_TANH).getFirst();
        assertEquals("saturation", f.kind());
        assertTrue(f.seen().contains("90% of its non-zero gradient values"), f.seen());
    }

    @Test
    void nonFiniteNamesTheOriginAndTheLoss() {
        List<HealthSnapshot> h = List.of(snap(10, 1, 1), snap(20, 1.5, 1));
        NonFiniteOrigin o = new NonFiniteOrigin(25, "layer1.weight", 7, 100, List.of("layer1.weight"), "exp", "body.3", false);
        List<Finding> f = Diagnosis.diagnose(h, o, 30, Double.POSITIVE_INFINITY, PLAIN_TANH);
        Finding n = f.getLast();
        assertEquals("non-finite", n.kind());
        assertTrue(n.seen().contains("first non-finite gradient at step 25 in 'layer1.weight' (7 of 100 values)"), n.seen());
        assertTrue(n.seen().contains("produced by op 'exp' in forward in module 'body.3'"), n.seen());
        assertTrue(n.seen().contains("the loss was Infinity at step 30"), n.seen());
        assertEquals("exp", n.toJson().get("origin_op"));
    }
}
