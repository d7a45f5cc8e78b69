package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.bench.ClipBench;
import dev.ballast.bench.ClipShapes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipBenchCommandTest {

    @TempDir Path dir;

    private Path file(String json) throws Exception {
        Path f = dir.resolve("tiny.json");
        Files.writeString(f, json);
        return f;
    }

    @Test void tinyShapesFileGivesPositiveFiguresAndAllJsonKeys() throws Exception {
        Path f = file("[[1000], [64, 48], {\"shape\": [300], \"dtype\": \"bf16\"}, {\"shape\": [5, 7], \"dtype\": \"f16\"}]");
        Run r = Run.of("bench", "clip", "--device", "cpu", "--shapes", f.toString(), "--quick", "--no-torch", "--json");
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().lines().toList();
        JsonNode json = new ObjectMapper().readTree(lines.getLast());
        assertEquals("cpu", json.get("device").asText());
        assertTrue(json.get("copy_gbps").asDouble() > 0, lines.getLast());
        JsonNode set = json.get("sets").get("tiny");
        assertEquals(4, set.get("tensors").asInt());
        assertEquals(1000 + 64 * 48 + 300 + 35, set.get("params").asLong());
        for (String k : List.of("norm_ms", "clip_ms", "adamw_ms", "clip_adamw_ms", "chain_ms", "api_ms", "norm_gbps", "copy_gbps")) {
            assertTrue(set.get(k).isNumber() && set.get(k).asDouble() > 0, k + " = " + set.get(k));
        }
        assertTrue(set.get("torch_clip_ms").isNull() && set.get("torch_adamw_ms").isNull(), set.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("tiny ")), r.out());
        assertTrue(r.err().contains("clip+adamw"), r.err());
    }

    @Test void builtInSetsMatchThePyTorchBaseline() {
        List<ClipShapes.GradSet> sets = ClipShapes.builtIn();
        assertEquals(List.of("gpt2_124M", "llama_1B", "small_10k_x_1k"), sets.stream().map(ClipShapes.GradSet::name).toList());
        // tensors and params as in pytorch-h100-baseline.json
        assertEquals(148, sets.get(0).tensors().size());
        assertEquals(124_439_808L, sets.get(0).params());
        assertEquals(201, sets.get(1).tensors().size());
        assertEquals(1_261_529_088L, sets.get(1).params());
        assertEquals(10_000, sets.get(2).tensors().size());
        assertEquals(10_000_000L, sets.get(2).params());
        assertEquals(16 * 124_439_808L, ClipBench.bytesNeeded(sets.get(0)));
    }

    @Test void malformedShapesFilesAreUsageErrorsNamingTheProblem() throws Exception {
        Map<String, String> cases = Map.of(
                "{\"a\": 1}", "non-empty JSON list",
                "[]", "non-empty JSON list",
                "[[10, -1]]", "dim 1 is -1",
                "[[10, 2.5]]", "dim 1 is 2.5",
                "[{\"shape\": [4], \"dtype\": \"f64\"}]", "unknown dtype 'f64'; allowed: f32, f16, bf16",
                "[{\"dims\": [4]}]", "unknown key 'dims'",
                "[\"x\"]", "item 0",
                "[[4], [", "not valid JSON");
        for (var c : cases.entrySet()) {
            Run r = Run.of("bench", "clip", "--device", "cpu", "--shapes", file(c.getKey()).toString(), "--no-torch");
            assertEquals(2, r.exitCode(), c.getKey() + ": " + r.err());
            assertTrue(r.err().contains("Invalid --shapes") && r.err().contains(c.getValue()), c.getKey() + ": " + r.err());
        }
        Run missing = Run.of("bench", "clip", "--shapes", dir.resolve("nope.json").toString(), "--no-torch");
        assertEquals(2, missing.exitCode());
        assertTrue(missing.err().contains("cannot read shapes file"), missing.err());
    }

    @Test void torchScriptIsValidPython() throws Exception {
        PythonSyntax.assertParses(dev.ballast.bench.TorchClipBench.SCRIPT);
    }

    @Test void unknownDeviceIsAUsageError() {
        Run r = Run.of("bench", "clip", "--device", "tpu");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Invalid --device 'tpu': allowed values are cpu, cuda, auto"), r.err());
    }

    @Test void tableShowsRatiosAndSkippedSets() {
        var s = new ClipBench.SetResult("gpt2_124M", 148, 124_439_808L, 497_759_232L, 2, 3, 10, 11, 12.1, 11, 8, 10, 6.0, null, 12, 24.0);
        var r = new ClipBench.Result("cpu", "2 threads", 10, Map.of("gpt2_124M", s),
                Map.of("llama_1B", "needs 20.2 GB"), "not requested");
        List<String> lines = ClipBenchCommand.table(r).lines().toList();
        List<String> row = List.of(lines.get(2).trim().split("\\s+"));
        assertEquals(List.of("gpt2_124M", "148", "124,439,808", "2.000", "8.0", "80.0%", "3.000", "10.000", "11.000",
                "10.0%", "12.100", "10.0%", "11.000", "10.0%", "6.000", "n/a", "2.00", "n/a"), row);
        assertTrue(lines.contains("gpt2_124M        amp    12.000 ms  torch amp     24.000 ms  amp x 2.00"), lines.toString());
        assertTrue(lines.contains("skipped llama_1B: needs 20.2 GB"), lines.toString());
        assertTrue(lines.contains("PyTorch: not requested"), lines.toString());
    }
}
