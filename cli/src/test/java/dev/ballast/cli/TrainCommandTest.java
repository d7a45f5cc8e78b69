package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ballast train} with tiny configurations (a few steps each): summary, metrics file, config errors, exit codes. */
class TrainCommandTest {
    private static final String[] TINY_SPIRALS = {"train", "--task", "spirals", "--steps", "20", "--depth", "2", "--width", "16",
            "--train-size", "256", "--test-size", "64", "--batch", "32", "--log-every", "5", "--eval-every", "10", "--device", "cpu"};

    @TempDir Path dir;

    private static String[] with(String[] base, String... more) {
        List<String> all = new ArrayList<>(List.of(base));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static double value(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + ": (\\S+)").matcher(out);
        assertTrue(m.find(), "no '" + key + "' line in:\n" + out);
        return Double.parseDouble(m.group(1));
    }

    @Test void tinySpiralsRunPrintsTheSummaryAndWritesMetrics() throws Exception {
        Path metrics = dir.resolve("m.jsonl");
        Run r = Run.of(with(TINY_SPIRALS, "--metrics", metrics.toString()));
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(20, value(r.out(), "steps"));
        assertEquals(0, value(r.out(), "steps skipped"));
        double loss = value(r.out(), "final train loss");
        assertTrue(loss > 0 && loss < 2, r.out());
        double acc = value(r.out(), "test accuracy");
        assertTrue(acc >= 0 && acc <= 1, r.out());
        assertTrue(r.out().contains("time: "), r.out());
        assertTrue(r.out().contains("model: mlp"), r.out());
        // not a console: plain progress lines on stderr
        assertTrue(r.err().contains("step 20/20  loss"), r.err());

        List<String> lines = Files.readAllLines(metrics);
        assertEquals(4, lines.size(), lines.toString()); // steps 5, 10 (and eval), 15, 20 (and eval)
        ObjectMapper json = new ObjectMapper();
        JsonNode first = json.readTree(lines.getFirst()), last = json.readTree(lines.getLast());
        assertEquals(5, first.get("step").asLong());
        assertTrue(first.get("loss").isNumber());
        assertEquals(20, last.get("step").asLong());
        assertEquals(acc, last.get("eval_accuracy").asDouble(), 1e-5);
        assertEquals(loss, last.get("loss").asDouble(), 1e-5 * Math.max(1, loss));
    }

    @Test void clippedRecurrentRunUsesTheGradientChain() {
        Run r = Run.of("train", "--task", "adding", "--model", "gru", "--steps", "6", "--seq-len", "6", "--hidden", "8",
                "--train-size", "64", "--test-size", "16", "--batch", "16", "--clip", "0.5", "--clip-value", "0.1", "--device", "cpu");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(6, value(r.out(), "steps"));
        assertTrue(value(r.out(), "test mse") >= 0, r.out());
        assertTrue(r.err().contains("chain skip_nonfinite > clip_value(0.1) > clip_norm(0.5, 2.0)"),
                "the flags' chain in the documented order: " + r.err());
    }

    @Test void anExplicitChainFromTheConfigFileIsTheChainInEffect() throws Exception {
        Path cfg = dir.resolve("chain.json");
        Files.writeString(cfg, """
                {"task": "teacher-student", "steps": 3, "depth": 1, "width": 8, "train-size": 64, "testSize": 16,
                 "batch": 16, "device": "cpu", "clip": 5,
                 "chain": [{"op": "clip_norm", "max_norm": 1}, {"op": "clip_value", "value": 0.01}, {"op": "skip_nonfinite"}]}
                """);
        Run printed = Run.of("train", "--config", cfg.toString(), "--print-config");
        assertEquals(0, printed.exitCode(), printed.err());
        JsonNode chain = new ObjectMapper().readTree(printed.out()).get("chain");
        assertEquals(3, chain.size(), printed.out());
        assertEquals("clip_norm", chain.get(0).get("op").asText());
        assertEquals("clip_value", chain.get(1).get("op").asText());
        Run r = Run.of("train", "--config", cfg.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("chain clip_norm(1) > clip_value(0.01) > skip_nonfinite"), r.err());
        Run conflict = Run.of("train", "--config", cfg.toString(), "--clip", "2");
        assertEquals(2, conflict.exitCode(), conflict.err());
        assertTrue(conflict.err().contains("--clip cannot change the config file's explicit chain"), conflict.err());
        Files.writeString(cfg, "{\"chain\": [{\"op\": \"clip_norm\", \"max\": 1}]}");
        Run bad = Run.of("train", "--config", cfg.toString(), "--print-config");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("chain[0] (clip_norm): unknown argument 'max'"), bad.err());
    }

    @Test void printConfigShowsTheFlagsChainInTheDefaultOrder() throws Exception {
        Run r = Run.of("train", "--task", "spirals", "--clip", "1", "--clip-value", "0.5", "--agc", "0.01", "--print-config");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode chain = new ObjectMapper().readTree(r.out()).get("chain");
        List<String> ops = new java.util.ArrayList<>();
        for (JsonNode o : chain) ops.add(o.get("op").asText());
        assertEquals(List.of("skip_nonfinite", "agc", "clip_value", "clip_norm"), ops);
        Run off = Run.of("train", "--task", "spirals", "--skip-nonfinite", "false", "--print-config");
        assertEquals(0, new ObjectMapper().readTree(off.out()).get("chain").size(), off.out());
    }

    @Test void mixedPrecisionRunsShowTheLossScaleAndSkippedSteps() throws Exception {
        Path runDir = dir.resolve("fp16-run");
        Run fp16 = Run.of(with(TINY_SPIRALS, "--precision", "fp16", "--clip", "1.0", "--out", runDir.toString()));
        assertEquals(0, fp16.exitCode(), fp16.err());
        // the run report: every logged step has the loss scale and the first layer's zero-gradient fraction
        List<String> recorded = Files.readAllLines(runDir.resolve("metrics.jsonl"));
        assertEquals(4, recorded.size(), recorded.toString());
        for (String l : recorded)
            assertTrue(l.contains("\"loss_scale\":") && l.contains("\"first_layer_zero_grad_fraction\":"), l);
        assertTrue(fp16.out().contains("precision: fp16"), fp16.out());
        double scale = value(fp16.out(), "loss scale");
        assertTrue(scale > 0 && scale <= 65536 && Math.getExponent(scale) == Math.log(scale) / Math.log(2), fp16.out());
        assertTrue(fp16.out().contains("overflow steps skipped"), fp16.out());
        assertTrue(value(fp16.out(), "steps skipped") >= 0, fp16.out());
        assertTrue(fp16.err().contains("chain unscale > skip_nonfinite > clip_norm(1.0, 2.0)") && fp16.err().contains("precision fp16"),
                fp16.err());
        Run bf16 = Run.of(with(TINY_SPIRALS, "--precision", "bf16"));
        assertEquals(0, bf16.exitCode(), bf16.err());
        assertTrue(bf16.out().contains("loss scale: none (bf16 needs no loss scaling)"), bf16.out());
        assertTrue(!bf16.err().contains("unscale"), bf16.err());
        assertEquals(0, value(bf16.out(), "steps skipped"));
        Run bad = Run.of("train", "--precision", "fp8");
        assertEquals(2, bad.exitCode(), bad.err());
        assertTrue(bad.err().contains("precision: 'fp8' is not one of fp32, bf16, fp16") && bad.err().contains("(--precision)"), bad.err());
        Path cfg = dir.resolve("unscale.json");
        Files.writeString(cfg, "{\"chain\": [{\"op\": \"unscale\"}]}");
        Run unscaleInFp32 = Run.of(with(TINY_SPIRALS, "--config", cfg.toString()));
        assertEquals(2, unscaleInFp32.exitCode(), unscaleInFp32.err());
        assertTrue(unscaleInFp32.err().contains("only precision fp16 has"), unscaleInFp32.err());

        Run unscaled = Run.of(with(TINY_SPIRALS, "--precision", "fp16", "--loss-scale", "none"));
        assertEquals(0, unscaled.exitCode(), unscaled.err());
        assertTrue(unscaled.out().contains("loss scale: none (fp16 without loss scaling"), unscaled.out());
        assertTrue(!unscaled.err().contains("unscale"), unscaled.err()); // no scaler, so no unscale link
        Run fixed = Run.of(with(TINY_SPIRALS, "--precision", "fp16", "--loss-scale", "1024"));
        assertEquals(0, fixed.exitCode(), fixed.err());
        assertEquals(1024, value(fixed.out(), "loss scale"), fixed.out());
        assertTrue(fixed.out().contains(" final (static, initial "), fixed.out());
        Run notFp16 = Run.of(with(TINY_SPIRALS, "--precision", "bf16", "--loss-scale", "none"));
        assertEquals(2, notFp16.exitCode(), notFp16.err());
        assertTrue(notFp16.err().contains("lossScale does not apply to precision bf16") && notFp16.err().contains("(--loss-scale)"), notFp16.err());
        Run badScale = Run.of(with(TINY_SPIRALS, "--precision", "fp16", "--loss-scale", "-3"));
        assertEquals(2, badScale.exitCode(), badScale.err());
        assertTrue(badScale.err().contains("lossScale: '-3' is not dynamic, none or a finite number > 0"), badScale.err());
    }

    @Test void transformerOnCopyReportsTokenError() {
        Run r = Run.of("train", "--task", "copy", "--steps", "4", "--seq-len", "4", "--width", "16", "--heads", "2",
                "--train-size", "64", "--test-size", "16", "--batch", "16", "--device", "cpu");
        assertEquals(0, r.exitCode(), r.err());
        double err = value(r.out(), "test token_error");
        assertTrue(err >= 0 && err <= 1, r.out());
    }

    @Test void configFileSetsKeysAndFlagsOverrideThem() throws Exception {
        Path cfg = dir.resolve("c.json");
        Files.writeString(cfg, """
                {"task": "teacher-student", "steps": 5, "depth": 1, "width": 8, "train-size": 128, "testSize": 32,
                 "batch": 16, "device": "cpu"}
                """);
        Run r = Run.of("train", "--config", cfg.toString(), "--steps", "7");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(7, value(r.out(), "steps"));
        assertTrue(r.out().contains("task: teacher-student"), r.out());
        assertTrue(r.out().contains("test mse: "), r.out());
    }

    @Test void printConfigShowsTheTaskDefaults() throws Exception {
        Run r = Run.of("train", "--task", "adding", "--print-config");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode c = new ObjectMapper().readTree(r.out());
        assertEquals("lstm", c.get("model").asText());
        assertEquals(128, c.get("hidden").asInt());
        assertEquals(1.0, c.get("clip").asDouble());
        assertEquals(50, c.get("seqLen").asInt());
    }

    @Test void unknownKeyInTheFileIsABadConfig() throws Exception {
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, "{\"stepz\": 5}");
        Run r = Run.of("train", "--config", cfg.toString());
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("unknown key 'stepz'"), r.err());
        assertTrue(r.err().contains("allowed keys: model, task, steps"), r.err());
    }

    @Test void malformedOrMissingFileIsABadConfig() throws Exception {
        Path cfg = dir.resolve("broken.json");
        Files.writeString(cfg, "{\"steps\": ");
        Run r = Run.of("train", "--config", cfg.toString());
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("not valid JSON"), r.err());
        Run missing = Run.of("train", "--config", dir.resolve("none.json").toString());
        assertEquals(2, missing.exitCode(), missing.err());
        assertTrue(missing.err().contains("does not exist"), missing.err());
    }

    @Test void badValuesNameTheKeyAndTheAllowedValues() {
        Run r = Run.of("train", "--optimizer", "rmsprop");
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("optimizer: 'rmsprop' is not one of sgd, adam, adamw"), r.err());
        assertTrue(r.err().contains("(--optimizer)"), r.err());

        Run heads = Run.of("train", "--task", "copy", "--width", "30", "--heads", "4");
        assertEquals(2, heads.exitCode(), heads.err());
        assertTrue(heads.err().contains("multiple of heads"), heads.err());

        Run init = Run.of("train", "--init", "normal:-1");
        assertEquals(2, init.exitCode(), init.err());
        assertTrue(init.err().contains("init"), init.err());

        Run neg = Run.of("train", "--weight-decay", "-0.1");
        assertEquals(2, neg.exitCode(), neg.err());
        assertTrue(neg.err().contains("weightDecay must be a finite number >= 0") && neg.err().contains("(--weight-decay)"), neg.err());

        Run type = Run.of("train", "--steps", "many");
        assertEquals(2, type.exitCode(), type.err());
        assertTrue(type.err().contains("--steps"), type.err());
    }

    @Test void divergenceExitsWithOneAndSaysSo() {
        Run r = Run.of("train", "--task", "teacher-student", "--optimizer", "sgd", "--lr", "1e6", "--steps", "50",
                "--log-every", "1", "--train-size", "128", "--test-size", "32", "--batch", "16", "--device", "cpu");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("training diverged"), r.err());
        assertFalse(r.out().contains("test mse"), r.out());
    }

    @Test void checkpointIsWritten() {
        Path ckpt = dir.resolve("run.safetensors");
        Run r = Run.of(with(TINY_SPIRALS, "--checkpoint", ckpt.toString()));
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(Files.isRegularFile(ckpt), "no checkpoint at " + ckpt);
    }
}
