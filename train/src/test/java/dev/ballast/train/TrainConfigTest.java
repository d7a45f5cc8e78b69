package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.builtin.ConfigException;
import dev.ballast.train.builtin.TrainConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** TrainConfig: calibrated defaults per task, overrides by key, and errors that name the key and the allowed values. */
class TrainConfigTest {

    @Test void defaultsAreTheCalibratedSettings() {
        TrainConfig s = TrainConfig.resolve(Map.of());
        assertEquals("spirals", s.task());
        assertEquals("mlp", s.model());
        assertEquals(20, s.depth());
        assertEquals(64, s.width());
        assertEquals("xavier", s.init());
        assertEquals("tanh", s.activation());
        assertEquals("adam", s.optimizer());
        assertEquals(1e-3, s.lr());
        assertEquals(128, s.batch());
        assertTrue(s.weightInit().name().startsWith("xavier-uniform(gain=1.666"), s.weightInit().name()); // tanh gain 5/3

        TrainConfig a = TrainConfig.resolve(Map.of("task", "adding"));
        assertEquals("lstm", a.model());
        assertEquals(128, a.hidden());
        assertEquals(1.0, a.clip());
        assertEquals(64, a.batch());
        assertEquals(50, a.seqLen());

        TrainConfig t = TrainConfig.resolve(Map.of("task", "copy"));
        assertEquals("transformer", t.model());
        assertEquals(2, t.layers());
    }

    @Test void overridesAcceptStringsAndNumbers() {
        TrainConfig c = TrainConfig.resolve(Map.of("task", "sort", "steps", "77", "lr", 0.01, "batch", 3.0e1, "init", "Normal:0.02",
                "optimizer", "AdamW"));
        assertEquals(77, c.steps());
        assertEquals(0.01, c.lr());
        assertEquals(30, c.batch());
        assertEquals("normal:0.02", c.init());
        assertEquals("adamw", c.optimizer());
        assertEquals("normal(std=0.02)", c.weightInit().name());
        assertEquals(7, TrainConfig.resolve(Map.of("steps", 70)).effectiveEvalEvery());
        assertEquals(5, TrainConfig.resolve(Map.of("steps", 70, "evalEvery", 5)).effectiveEvalEvery());
    }

    private static ConfigException bad(Map<String, ?> m) { return assertThrows(ConfigException.class, () -> TrainConfig.resolve(m)); }

    @Test void errorsNameTheKeyAndTheAllowedValues() {
        ConfigException e = bad(Map.of("model", "cnn"));
        assertEquals("model", e.key());
        assertTrue(e.getMessage().contains("'cnn' is not one of mlp, resmlp, rnn, lstm, gru, transformer"), e.getMessage());

        e = bad(Map.of("task", "mnist"));
        assertEquals("task", e.key());
        assertTrue(e.getMessage().contains("spirals, spirals-hard, adding, temporal-order, teacher-student, copy, sort"), e.getMessage());

        e = bad(Map.of("shedule", "cosine"));
        assertEquals("shedule", e.key());
        assertTrue(e.getMessage().contains("unknown key 'shedule'") && e.getMessage().contains("schedule"), e.getMessage());

        assertEquals("schedule", bad(Map.of("schedule", "linear")).key());
        assertEquals("activation", bad(Map.of("activation", "swish")).key());
        assertEquals("device", bad(Map.of("device", "tpu")).key());
        assertEquals("init", bad(Map.of("init", "orthogonal")).key());
        assertEquals("init", bad(Map.of("init", "normal:abc")).key());
        assertEquals("steps", bad(Map.of("steps", 0)).key());
        assertEquals("steps", bad(Map.of("steps", "ten")).key());
        assertEquals("steps", bad(Map.of("steps", 2.5)).key());
        assertEquals("lr", bad(Map.of("lr", -1)).key());
        assertEquals("lr", bad(Map.of("lr", "NaN")).key());
        assertEquals("momentum", bad(Map.of("momentum", 1.0)).key());
        assertEquals("clip", bad(Map.of("clip", -0.5)).key());
        assertEquals("seqLen", bad(Map.of("task", "temporal-order", "seqLen", 5)).key());
        assertEquals("trainSize", bad(Map.of("trainSize", 10, "batch", 64)).key());
        e = bad(Map.of("model", "transformer", "width", 30, "heads", 4));
        assertEquals("heads", e.key());
        assertTrue(e.getMessage().contains("try heads 3"), e.getMessage());
    }

    @Test void toMapRoundTrips() {
        TrainConfig c = TrainConfig.resolve(Map.of("task", "temporal-order", "model", "gru", "seed", 9));
        assertEquals(TrainConfig.KEYS, java.util.List.copyOf(c.toMap().keySet()));
        assertEquals(c, TrainConfig.resolve(c.toMap(), Map.of())); // as a base (a checkpoint's settings): every key, applying or not
    }

    @Test void lossScaleChoosesTheScalerAndTheUnscaleLink() {
        TrainConfig dynamic = TrainConfig.resolve(Map.of("precision", "fp16"));
        assertEquals("dynamic", dynamic.lossScale());
        assertTrue(dynamic.lossScaled() && Double.isNaN(dynamic.staticLossScale()));
        assertEquals("unscale", dynamic.effectiveChain().getFirst().get("op"));
        TrainConfig none = TrainConfig.resolve(Map.of("precision", "fp16", "lossScale", "None"));
        assertEquals("none", none.lossScale());
        assertTrue(!none.lossScaled() && none.effectiveChain().stream().noneMatch(o -> "unscale".equals(o.get("op"))), none.effectiveChain().toString());
        TrainConfig fixed = TrainConfig.resolve(Map.of("precision", "fp16", "lossScale", 1024));
        assertTrue(fixed.lossScaled());
        assertEquals(1024.0, fixed.staticLossScale());
        assertEquals("lossScale", bad(Map.of("precision", "fp16", "lossScale", "auto")).key());
        assertEquals("lossScale", bad(Map.of("precision", "fp32", "lossScale", "none")).key()); // only fp16 scales
        assertEquals(none, TrainConfig.resolve(none.toMap(), Map.of()));
        // a checkpoint written before the key existed resumes with the default
        Map<String, Object> old = new java.util.LinkedHashMap<>(dynamic.toMap());
        old.remove("lossScale");
        assertEquals(dynamic, TrainConfig.resolve(old, Map.of()));
    }
}
