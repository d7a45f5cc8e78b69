package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The whole built-in training path (task data, model, optimizer, clipping, trainer, evaluation) learns with every
 * model kind: on a small task, the mean loss of the last five steps is well below the first step's. A few dozen
 * steps each, seconds in all, so CI runs it.
 */
class BuiltinLearningTest {

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({
            "mlp,         spirals,         0.01",
            "resmlp,      teacher-student, 0.003",
            "rnn,         adding,          0.01",
            "lstm,        adding,          0.01",
            "gru,         temporal-order,  0.01",
            "transformer, copy,            0.003",
    })
    void lossDropsClearly(String model, String task, double lr) {
        Map<String, Object> s = new HashMap<>(Map.of("model", model, "task", task, "steps", 40, "lr", lr, "logEvery", 1,
                "device", "cpu", "trainSize", 1280, "testSize", 64, "batch", 32, "seed", 3));
        s.putAll(Map.of("depth", 3, "width", 32, "hidden", 32, "layers", 1, "heads", 2, "seqLen", 10, "vocab", 5, "clip", 1.0));
        TrainConfig c = TrainConfig.resolve(s, Map.of()); // one set of sizes for every model: a base, not user settings
        List<Double> losses = new ArrayList<>();
        try (BuiltinTraining run = BuiltinTraining.create(c)) {
            Trainer.Result r = run.trainer(new BuiltinTraining.Listener() {
                @Override public void onLoss(long step, double loss) { losses.add(loss); }
            }).build().run();
            assertEquals(40, r.iterations());
            assertEquals(0, r.skippedSteps());
            assertTrue(r.lastEval().containsKey(run.task().metric()), r.lastEval().toString());
        }
        assertEquals(40, losses.size());
        double first = losses.getFirst();
        double last5 = losses.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        System.err.printf(java.util.Locale.ROOT, "%s on %s: loss %.4g -> %.4g (%.2fx)%n", model, task, first, last5, last5 / first);
        assertTrue(Double.isFinite(first) && last5 < 0.7 * first,
                model + " on " + task + ": loss went from " + first + " to " + last5 + " (mean of the last 5); all: " + losses);
    }
}
