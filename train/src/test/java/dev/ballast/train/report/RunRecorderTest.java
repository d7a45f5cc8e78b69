package dev.ballast.train.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Batch;
import dev.ballast.stability.monitor.GradientMonitor;
import dev.ballast.stability.monitor.HealthSnapshot;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recorder on a real run: per-layer and global gradient norms on exactly the logged steps, from the health
 * monitor's one statistics pass per logged step (its own monitor's or a shared one's), equal to float64 norms of the
 * same gradients taken independently; losses and evaluations in the right rows; the run directory's
 * files read back to the same log.
 */
class RunRecorderTest {
    @TempDir Path dir;

    static TrainConfig tiny(long steps, Map<String, Object> more) {
        Map<String, Object> s = new HashMap<>(Map.of("task", "spirals", "steps", steps, "depth", 4, "width", 16, "trainSize", 512,
                "testSize", 64, "batch", 32, "logEvery", 5, "evalEvery", 10, "device", "cpu"));
        s.put("seed", 1);
        s.putAll(more);
        return TrainConfig.resolve(s);
    }

    /** Records a run; {@code seen} gets float64 layer norms and the global norm per step, taken after the recorder's. */
    static RunLog record(TrainConfig c, Map<Long, double[]> seen) { return record(c, seen, 0, null); }

    /**
     * As above; with {@code sharedEvery} > 0 the recorder takes its readings from a health monitor of that interval
     * that another hook drives (as {@code ballast train --out} shares the health session's), and {@code readSteps}
     * gets the steps that monitor read; otherwise the steps the recorder's own monitor read.
     */
    static RunLog record(TrainConfig c, Map<Long, double[]> seen, long sharedEvery, List<Long> readSteps) {
        try (BuiltinTraining run = BuiltinTraining.create(c)) {
            RunRecorder rec = new RunRecorder(run.model().namedParameters(), run.optimizer(), c.logEvery(), c.steps(), 0, null);
            long[] step = {0};
            Trainer.Builder b = run.trainer(rec);
            b.hook(rec);
            if (sharedEvery > 0) {
                GradientMonitor shared = new GradientMonitor(run.model().namedParameters(), sharedEvery);
                b.hook(new Trainer.StepHook() {
                    @Override public boolean beforeStep(long s, Batch batch, Tensor loss) {
                        shared.beforeStep(s);
                        return true;
                    }

                    @Override public void afterStep(long s, boolean applied) { shared.afterStep(s); }
                });
                rec.monitor(shared);
            }
            b.gradTransform(rec.gradTransform(params -> {
                step[0]++;
                List<Double> layers = new ArrayList<>();
                double sq = 0;
                for (var e : run.model().namedParameters().entrySet()) {
                    double ss = 0;
                    for (double v : e.getValue().grad().toDoubleArray()) ss += v * v;
                    sq += ss;
                    if (e.getValue().rank() >= 2) layers.add(Math.sqrt(ss));
                }
                double[] out = new double[layers.size() + 1];
                for (int i = 0; i < layers.size(); i++) out[i] = layers.get(i);
                out[layers.size()] = Math.sqrt(sq);
                seen.put(step[0], out);
            }));
            Trainer.Result r = b.build().run();
            RunLog log = rec.log("tiny", "tiny run", c.toMap(), c.clip(), Map.of("steps", r.iterations()));
            if (readSteps != null) for (HealthSnapshot h : rec.monitor().history()) readSteps.add(h.step());
            return log;
        }
    }

    @Test void normsOnLoggedStepsMatchFloat64() {
        List<Long> read = new ArrayList<>();
        checkNorms(0, read);
        assertEquals(List.of(5L, 10L, 15L, 20L, 23L), read, "the recorder's monitor reads each logged step once, nothing else");
    }

    /**
     * Sharing a health monitor of another interval (7): the report is the same (float64 norms on the logged steps) and
     * the one monitor read each step it needed once: its own every 7th and the report's logged steps, no step twice.
     */
    @Test void aSharedMonitorReadsTheLoggedStepsToo() {
        List<Long> read = new ArrayList<>();
        checkNorms(7, read);
        assertEquals(List.of(5L, 7L, 10L, 14L, 15L, 20L, 21L, 23L), read);
    }

    private void checkNorms(long sharedEvery, List<Long> read) {
        TrainConfig c = tiny(23, Map.of());
        Map<Long, double[]> seen = new TreeMap<>();
        RunLog log = record(c, seen, sharedEvery, read);
        assertEquals(List.of("body.0.weight", "body.2.weight", "body.4.weight", "body.6.weight", "head.weight"), log.layers());
        List<Long> steps = log.steps().stream().map(StepRecord::step).toList();
        assertEquals(List.of(5L, 10L, 15L, 20L, 23L), steps);
        for (StepRecord s : log.steps()) {
            double[] want = seen.get(s.step());
            assertTrue(Double.isFinite(s.loss()) && s.loss() > 0, "loss at " + s.step());
            assertFalse(s.skipped());
            assertEquals(0.001, s.lr(), 1e-12);
            for (int i = 0; i < log.layers().size(); i++)
                assertEquals(want[i], s.layerGradNorm(i), 1e-5 * want[i] + 1e-9, log.layers().get(i) + " at step " + s.step());
            assertEquals(want[want.length - 1], s.gradNorm(), 1e-5 * want[want.length - 1], "global norm at " + s.step());
            assertEquals(0.0, s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS), "tanh first-layer gradients are not zero");
        }
        assertTrue(log.steps().get(1).eval().containsKey("accuracy"), "evaluation at step 10");
        assertTrue(log.steps().getLast().eval().containsKey("accuracy"), "evaluation at the last step");
        assertTrue(log.steps().get(0).eval().isEmpty());
        assertEquals("healthy", log.findings().getFirst().kind(), log.findings().toString());
    }

    @Test void runFilesRoundTrip() throws Exception {
        TrainConfig c = tiny(20, Map.of("clip", 0.5));
        RunLog log = record(c, new TreeMap<>());
        RunFiles.writeRun(dir, log);
        RunLog back = RunFiles.readRun(dir);
        assertEquals(log.name(), back.name());
        assertEquals(log.layers(), back.layers());
        assertEquals(0.5, back.clip());
        assertEquals(log.findings(), back.findings());
        assertEquals(log.steps().size(), back.steps().size());
        for (int i = 0; i < log.steps().size(); i++) {
            StepRecord a = log.steps().get(i), b = back.steps().get(i);
            assertEquals(a.step(), b.step());
            assertEquals(a.loss(), b.loss());
            assertEquals(a.gradNorm(), b.gradNorm());
            assertArrayEquals(a.layerGradNorms(), b.layerGradNorms());
            assertEquals(a.eval(), b.eval());
            assertEquals(a.extra(), b.extra());
        }
        List<String> csv = Files.readAllLines(dir.resolve(RunFiles.METRICS_CSV));
        assertEquals(1 + log.steps().size(), csv.size());
        assertTrue(csv.getFirst().startsWith("step,loss,lr,grad_norm,skipped,loss_scale,time_s,eval_accuracy,eval_loss,"), csv.getFirst());
        assertTrue(csv.getFirst().endsWith("grad_norm/head.weight"), csv.getFirst());
        String[] row = csv.get(2).split(",", -1);
        assertEquals("10", row[0]);
        assertEquals(log.steps().get(1).loss(), Double.parseDouble(row[1]));
        assertEquals(csv.getFirst().split(",").length, row.length);
        assertEquals(20, Files.readAllLines(dir.resolve(RunFiles.METRICS_JSONL)).size() * 5, "a line per logged step");
    }

    @Test void missingFilesAreNamed() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> RunFiles.read(dir));
        assertTrue(e.getMessage().contains("neither report.json") && e.getMessage().contains("ballast train --out"), e.getMessage());
    }
}
