package dev.ballast.train.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Findings in words from recorded numbers: each kind on a log that shows it, with the numbers and the cures. */
class FindingsTest {
    private static final List<String> LAYERS = List.of("l0.weight", "l1.weight", "l2.weight", "l3.weight", "l4.weight");

    private static RunLog log(String model, double clip, long divergedAt, List<StepRecord> steps, Map<String, Object> more) {
        var config = new java.util.LinkedHashMap<String, Object>(Map.of("model", model));
        config.putAll(more);
        return new RunLog("r", "r", config, LAYERS, clip, steps, List.of(), Map.of(), divergedAt);
    }

    private static StepRecord step(long s, double norm, double[] layers, double zeros, double scale, boolean skipped) {
        return new StepRecord(s, 0.5, 1e-3, norm, layers, scale, skipped, Map.of(),
                Double.isNaN(zeros) ? Map.of() : Map.of(StepRecord.FIRST_LAYER_ZERO_GRADS, zeros), 0);
    }

    private static double[] profile(double perLayerFactor) {
        double[] v = new double[LAYERS.size()];
        for (int i = 0; i < v.length; i++) v[i] = Math.pow(perLayerFactor, v.length - 1 - i); // the last layer is 1
        return v;
    }

    @Test void explodingTowardsTheInput() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, 1e4, profile(10), Double.NaN, Double.NaN, false));
        List<Finding> f = Findings.of(log("mlp", 0, 0, steps, Map.of()));
        assertEquals("exploding", f.getFirst().kind(), f.toString());
        assertTrue(f.getFirst().seen().contains("grow towards the input") && f.getFirst().seen().contains("x1.00e+04"), f.getFirst().seen());
        assertTrue(f.getFirst().cures().contains("Xavier/He initialization"), f.toString());
        assertTrue(f.getFirst().line().startsWith("diagnosis: exploding: "), f.getFirst().line());
    }

    @Test void vanishingTowardsTheInput() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, 1, profile(0.1), Double.NaN, Double.NaN, false));
        List<Finding> f = Findings.of(log("mlp", 0, 0, steps, Map.of()));
        assertEquals("vanishing", f.getFirst().kind(), f.toString());
        assertTrue(f.getFirst().cures().contains("residual connections with normalization"), f.toString());
    }

    @Test void divergedRecurrentRunSuggestsClippingAndGates() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, s < 5 ? 2 : 5000, new double[]{1, 1, 1, 1, 1}, Double.NaN, Double.NaN, false));
        steps.add(step(60, Double.NaN, null, Double.NaN, Double.NaN, false));
        List<Finding> f = Findings.of(log("rnn", 0, 60, steps, Map.of()));
        assertEquals("non-finite", f.getFirst().kind(), f.toString());
        assertTrue(f.getFirst().seen().contains("step 60") && f.getFirst().seen().contains("5.00e+03 at step 50"), f.getFirst().seen());
        assertTrue(f.getFirst().cures().getFirst().startsWith("gradient clipping (e.g. --clip 2"), f.toString());
        assertTrue(f.getFirst().cures().contains("gated recurrent cells (LSTM, GRU)"), f.toString());
    }

    @Test void spikeIsMeasuredAgainstTheStepsBefore() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 10; s++) steps.add(step(10L * s, s == 7 ? 300 : 3, new double[]{1, 1, 1, 1, 1}, Double.NaN, Double.NaN, false));
        List<Finding> f = Findings.of(log("rnn", 1.0, 0, steps, Map.of()));
        assertEquals("exploding", f.getFirst().kind(), f.toString());
        assertTrue(f.getFirst().seen().contains("spiked to 300 at step 70, 100x"), f.getFirst().seen());
        assertTrue(f.getFirst().seen().contains("clipping at 1 held the update on 10 of 10 logged steps"), f.getFirst().seen());
    }

    @Test void fp16UnderflowAndSkippedSteps() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, 1, new double[]{1, 1, 1, 1, 1}, 0.9, 1024, s == 2));
        List<Finding> f = Findings.of(log("mlp", 0, 0, steps, Map.of("precision", "fp16")));
        assertEquals(List.of("underflow", "non-finite"), f.stream().map(Finding::kind).toList(), f.toString());
        assertTrue(f.getFirst().seen().startsWith("90% of the first layer's (l0.weight)"), f.getFirst().seen());
        assertTrue(f.get(1).seen().contains("1 of 5 logged steps") && f.get(1).seen().contains("1.02e+03"), f.get(1).seen());
    }

    @Test void clipSuggestionIsOneSignificantDigit() {
        assertEquals(0.09, Findings.suggestClip(0.0929), 1e-12);
        assertEquals(2, Findings.suggestClip(2.4), 1e-12);
        assertEquals(300, Findings.suggestClip(251), 1e-12);
    }
}
