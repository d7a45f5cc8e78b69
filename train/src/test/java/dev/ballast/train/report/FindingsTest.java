package dev.ballast.train.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.DivergedException;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.health.HealthSession;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The report's findings: the gradient health diagnosis first, verbatim (one set of rules in the product), then what
 * only the recorded numbers show (fp16 underflow, skipped steps), or "healthy" when nothing is found; and on a real
 * recorded run, the diverging unclipped tanh RNN is diagnosed as exploding and saturated, not as dead units.
 */
class FindingsTest {
    private static final List<String> LAYERS = List.of("l0.weight", "l1.weight", "l2.weight", "l3.weight", "l4.weight");

    private static RunLog log(double clip, List<StepRecord> steps, Map<String, Object> more) {
        var config = new java.util.LinkedHashMap<String, Object>(Map.of("model", "mlp"));
        config.putAll(more);
        return new RunLog("r", "r", config, LAYERS, clip, steps, List.of(), Map.of(), 0);
    }

    private static StepRecord step(long s, double norm, double zeros, double scale, boolean skipped) {
        return new StepRecord(s, 0.5, 1e-3, norm, new double[] {1, 1, 1, 1, 1}, scale, skipped, Map.of(),
                Double.isNaN(zeros) ? Map.of() : Map.of(StepRecord.FIRST_LAYER_ZERO_GRADS, zeros), 0);
    }

    @Test void theDiagnosisComesFirstVerbatimAndHealthyOnlyWhenNothingIsFound() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, 1 + s, Double.NaN, Double.NaN, false));
        var d = new dev.ballast.stability.monitor.Finding("saturation", "l0.weight", "seen with numbers 1.5", List.of("a cure", "another"), Map.of());
        List<Finding> f = Findings.of(log(0, steps, Map.of()), List.of(d));
        assertEquals(List.of(new Finding("saturation", "seen with numbers 1.5", List.of("a cure", "another"))), f);
        assertEquals(d.line(), f.getFirst().line(), "the report prints what ballast train prints");
        List<Finding> healthy = Findings.of(log(2.5, steps, Map.of()), List.of());
        assertEquals("healthy", healthy.getFirst().kind(), healthy.toString());
        assertTrue(healthy.getFirst().seen().contains("between 2 and 6 (median 4); above the clip threshold 2.5 on 4 of 5"), healthy.toString());
    }

    @Test void fp16UnderflowAndSkippedStepsAreTheReportsOwn() {
        List<StepRecord> steps = new ArrayList<>();
        for (int s = 1; s <= 5; s++) steps.add(step(10L * s, 1, 0.9, 1024, s == 2));
        List<Finding> f = Findings.of(log(0, steps, Map.of("precision", "fp16")), List.of());
        assertEquals(List.of("underflow", "skipped"), f.stream().map(Finding::kind).toList(), f.toString());
        assertTrue(f.getFirst().seen().startsWith("90% of the first layer's (l0.weight)"), f.getFirst().seen());
        assertTrue(f.get(1).seen().contains("1 of 5 logged steps") && f.get(1).seen().contains("1.02e+03"), f.get(1).seen());
    }

    /** The demo's unclipped RNN story in small: SGD lr 3 with momentum diverges within 60 steps. */
    @Test void aDivergingTanhRnnIsExplodingAndSaturatedNotDeadUnits() {
        Map<String, Object> s = new HashMap<>(Map.of("task", "adding", "model", "rnn", "hidden", 16, "seqLen", 10, "optimizer", "sgd",
                "lr", 3.0, "momentum", 0.9, "steps", 60, "trainSize", 512, "testSize", 64));
        s.putAll(Map.of("batch", 32, "logEvery", 5, "clip", 0.0, "device", "cpu"));
        TrainConfig c = TrainConfig.resolve(s);
        try (BuiltinTraining run = BuiltinTraining.create(c)) {
            RunRecorder rec = new RunRecorder(run.model().namedParameters(), run.optimizer(), c.logEvery(), c.steps(), 0, null);
            Trainer.Builder b = run.trainer(rec);
            b.gradTransform(rec.gradTransform(null)).hook(rec);
            try {
                b.build().run();
            } catch (DivergedException e) {
                rec.diverged(e.step(), e.loss());
            }
            assertTrue(rec.divergedAt() > 0, "the run diverges");
            RunLog log = rec.log("rnn", "rnn", c.toMap(), c.clip(), Map.of(), HealthSession.traits(c));
            List<String> kinds = log.findings().stream().map(Finding::kind).toList();
            assertTrue(kinds.contains("non-finite") && (kinds.contains("exploding") || kinds.contains("saturation")), log.findings().toString());
            assertFalse(kinds.contains("dead-units"), "tanh units that pass zero gradient are saturated: " + log.findings());
            assertTrue(log.findings().stream().allMatch(f -> f.line().startsWith("diagnosis: " + f.kind() + ": ")), log.findings().toString());
        }
    }
}
