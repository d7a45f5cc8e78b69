package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The must-show results of the built-in training path on the CPU, each with the task's calibrated defaults
 * ({@link TrainConfig#defaults}), the same settings as {@code ballast train --task <task>}. Minutes on a small
 * machine, so tagged slow (run with {@code -Dballast.test.excludedGroups=nothing -Dtest=MustShowTest}). The step is
 * {@link BuiltinTraining}'s gradient chain, the same one the CLI runs.
 */
@Tag("slow")
class MustShowTest {

    private static Trainer.Result train(String task, Map<String, Object> extra) {
        java.util.Map<String, Object> s = new java.util.HashMap<>(extra);
        s.put("task", task);
        s.put("device", "cpu");
        TrainConfig c = TrainConfig.resolve(s);
        try (BuiltinTraining run = BuiltinTraining.create(c)) {
            Trainer.Result r = run.trainer(new BuiltinTraining.Listener() {
                @Override public void onEval(long step, Map<String, Double> m) {
                    System.err.printf(Locale.ROOT, "%s step %d: %s%n", task, step, m);
                }
            }).build().run();
            System.err.printf(Locale.ROOT, "%s: %d steps in %.1f s (%.2f ms/step), final loss %.4g, test %s%n", task,
                    r.iterations(), r.seconds(), 1e3 * r.seconds() / r.iterations(), r.lastLoss(), r.lastEval());
            assertEquals(c.steps(), r.iterations());
            return r;
        }
    }

    /** 20-layer tanh MLP, width 64, Xavier with the tanh gain, Adam 1e-3, batch 128, 3,000 steps (PyTorch: 99.9%). */
    @Test void deepTanhMlpSolvesTwoSpirals() {
        Trainer.Result r = train("spirals", Map.of());
        double acc = r.lastEval().get("accuracy");
        assertTrue(acc >= 0.95, "test accuracy " + acc);
    }

    /** LSTM 128, Adam 1e-3, clip 1.0, batch 64, T = 50, 3,000 steps: MSE under 0.01 (the mean predictor scores ~0.167). */
    @Test void lstmSolvesTheAddingProblem() {
        Trainer.Result r = train("adding", Map.of());
        double mse = r.lastEval().get("mse");
        assertTrue(mse < 0.01, "test MSE " + mse);
    }

    /** A 2-layer causal transformer (width 64, 4 heads) copies 8 tokens, 500 steps: teacher-forced token error under 5%. */
    @Test void twoLayerTransformerLearnsCopy() {
        Trainer.Result r = train("copy", Map.of());
        double err = r.lastEval().get("token_error");
        assertTrue(err < 0.05, "token error " + err);
    }

    /** The same transformer sorts 8 tokens from 10 symbols (repeats allowed), 1,500 steps: token error under 5%. */
    @Test void twoLayerTransformerLearnsSort() {
        Trainer.Result r = train("sort", Map.of());
        double err = r.lastEval().get("token_error");
        assertTrue(err < 0.05, "token error " + err);
    }
}
