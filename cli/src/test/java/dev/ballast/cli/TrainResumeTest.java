package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.Json;
import dev.ballast.engine.io.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ballast train --checkpoint} with {@code --resume}, {@code --overwrite} and {@code --keep}: an existing
 * checkpoint is never replaced by accident, a resumed run is bit-identical to an uninterrupted one, a diverging run
 * never replaces the last good checkpoint, a damaged checkpoint is named, and bad output paths fail before training.
 */
class TrainResumeTest {
    static final String[] TINY = {"train", "--task", "spirals", "--depth", "2", "--width", "16", "--train-size", "256",
            "--test-size", "64", "--batch", "32", "--log-every", "5", "--eval-every", "5", "--device", "cpu"};

    @TempDir Path dir;

    static String[] args(String... more) {
        List<String> all = new ArrayList<>(List.of(TINY));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /** Every tensor of a checkpoint, as raw float bits (model and optimizer state). */
    static Map<String, float[]> tensors(Path p) throws IOException {
        Map<String, float[]> out = new TreeMap<>();
        try (SafeTensors.Contents c = SafeTensors.read(p, Device.cpu())) {
            for (var e : c.tensors().entrySet()) if (e.getValue().dtype().isFloating()) out.put(e.getKey(), e.getValue().toFloatArray());
        }
        return out;
    }

    static void assertBitIdentical(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            float[] x = a.get(k), y = b.get(k);
            for (int i = 0; i < x.length; i++)
                assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), k + "[" + i + "]: " + x[i] + " vs " + y[i]);
        }
    }

    static void assertAllFinite(Path p) throws IOException {
        for (var e : tensors(p).entrySet()) for (float v : e.getValue()) assertTrue(Float.isFinite(v), e.getKey() + " holds " + v);
    }

    @Test void resumedRunIsBitIdenticalToAnUninterruptedOne() throws IOException {
        Path a = dir.resolve("a.safetensors"), b = dir.resolve("b.safetensors");
        assertEquals(0, Run.of(args("--steps", "20", "--checkpoint", a.toString())).exitCode());
        Run first = Run.of(args("--steps", "10", "--checkpoint", b.toString()));
        assertEquals(0, first.exitCode(), first.err());
        // --steps is the total: the resumed run trains steps 11-20; its settings come from the checkpoint
        Run rest = Run.of("train", "--resume", "--steps", "20", "--checkpoint", b.toString());
        assertEquals(0, rest.exitCode(), rest.err());
        assertTrue(rest.out().contains("steps: 20"), rest.out());
        assertEquals(20, Checkpoint.inspect(b).step());
        assertBitIdentical(tensors(a), tensors(b));
        // two step files kept by default, the pointer on the newest
        assertTrue(Files.isRegularFile(dir.resolve("b.step-00000015.safetensors")));
        assertFalse(Files.exists(dir.resolve("b.step-00000010.safetensors")));
    }

    /**
     * fp16: the loss scaler's state (scale, growth tracker, hysteresis left, overflow count) is in the checkpoint and a
     * resumed run is bit-identical to an uninterrupted one, scaler state included (a restarted growth tracker would
     * differ). The initial scale is PyTorch's 2^16, so the tiny model overflows on none or a few early steps.
     */
    @Test void resumedFp16RunRestoresTheLossScalerState() throws IOException {
        Path a = dir.resolve("a.safetensors"), b = dir.resolve("b.safetensors");
        assertEquals(0, Run.of(args("--steps", "20", "--precision", "fp16", "--checkpoint", a.toString())).exitCode());
        Run first = Run.of(args("--steps", "10", "--precision", "fp16", "--checkpoint", b.toString()));
        assertEquals(0, first.exitCode(), first.err());
        Run rest = Run.of("train", "--resume", "--steps", "20", "--checkpoint", b.toString());
        assertEquals(0, rest.exitCode(), rest.err());
        assertTrue(rest.out().contains("precision: fp16"), "the precision comes from the checkpoint: " + rest.out());
        Map<String, float[]> straight = tensors(a), resumed = tensors(b);
        for (String k : List.of("scale", "growth_tracker", "hysteresis_left", "skipped_steps"))
            assertTrue(resumed.keySet().stream().anyMatch(n -> n.endsWith("." + k)), k + " is saved: " + resumed.keySet());
        float tracker = entry(resumed, ".growth_tracker"), overflows = entry(resumed, ".skipped_steps");
        if (overflows == 0) assertEquals(20f, tracker, "the growth tracker counts on across the resume");
        assertBitIdentical(straight, resumed);
    }

    private static float entry(Map<String, float[]> t, String suffix) {
        return t.entrySet().stream().filter(e -> e.getKey().endsWith(suffix)).findFirst().orElseThrow().getValue()[0];
    }

    @Test void flagsOverrideTheCheckpointsSettingsOnResume() throws IOException {
        Path c = dir.resolve("c.safetensors");
        assertEquals(0, Run.of(args("--steps", "10", "--checkpoint", c.toString())).exitCode());
        Run r = Run.of("train", "--resume", "--steps", "15", "--lr", "0.0005", "--checkpoint", c.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("lr 5.0E-4"), r.err());
        Map<String, Object> saved = Json.parseObject(Checkpoint.inspect(c).metadata().get(TrainCheckpoint.CONFIG_KEY));
        assertEquals(0.0005, ((Number) saved.get("lr")).doubleValue());
        assertEquals(16L, saved.get("width"), "settings not given come from the checkpoint");
        assertEquals(0.0005, Double.parseDouble(Checkpoint.inspect(c).optimizerHyperparameters().get("group.0.lr")));
    }

    @Test void rerunningAFinishedCommandExitsTwoAndLeavesTheCheckpoint() throws IOException {
        Path c = dir.resolve("c.safetensors");
        String[] cmd = args("--steps", "10", "--checkpoint", c.toString());
        assertEquals(0, Run.of(cmd).exitCode());
        byte[] before = Files.readAllBytes(c);
        Run again = Run.of(cmd);
        assertEquals(2, again.exitCode(), again.err());
        assertTrue(again.err().contains("already exists (step 10)") && again.err().contains("--resume") && again.err().contains("--overwrite"),
                again.err());
        assertFalse(again.err().contains("step 5/"), "refused before training: " + again.err());
        assertArrayEquals(before, Files.readAllBytes(c));
        // with --resume a finished run has nothing left to do
        Run done = Run.of(args("--steps", "10", "--checkpoint", c.toString(), "--resume"));
        assertEquals(0, done.exitCode(), done.err());
        assertTrue(done.err().contains("nothing to train"), done.err());
        assertArrayEquals(before, Files.readAllBytes(c));
    }

    @Test void aDivergingRunNeverReplacesTheLastGoodCheckpoint() throws IOException {
        Path c = dir.resolve("c.safetensors");
        assertEquals(0, Run.of(args("--steps", "20", "--checkpoint", c.toString())).exitCode());
        for (String mode : new String[]{"--resume", "--overwrite"}) {
            Run r = Run.of("train", mode, "--steps", "40", "--lr", "1e308", "--eval-every", "1", "--checkpoint", c.toString(),
                    "--task", "spirals", "--depth", "2", "--width", "16", "--train-size", "256", "--test-size", "64", "--batch", "32",
                    "--device", "cpu");
            assertEquals(1, r.exitCode(), mode + ": " + r.err());
            assertTrue(r.err().contains("diverged") && r.err().contains("last good one is kept"), r.err());
            assertTrue(Checkpoint.inspect(c).step() >= 20, mode);
            assertAllFinite(c);
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) if (p.toString().endsWith(".safetensors")) assertAllFinite(p);
            }
        }
    }

    @Test void aDamagedCheckpointIsNamedWithItsChecksum() throws IOException {
        Path c = dir.resolve("c.safetensors");
        assertEquals(0, Run.of(args("--steps", "10", "--checkpoint", c.toString())).exitCode());
        Path real = c.resolveSibling(Files.readSymbolicLink(c));
        byte[] b = Files.readAllBytes(real);
        b[100] ^= 0x04; // in the header
        Files.write(real, b);
        Run r = Run.of("train", "--resume", "--steps", "20", "--checkpoint", c.toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains(c.toString()) && r.err().contains("checksum mismatch"), r.err());
    }

    @Test void unwritableOutputsFailBeforeTraining() throws IOException {
        Path file = Files.write(dir.resolve("a-file"), new byte[1]);
        Run r = Run.of(args("--steps", "10", "--checkpoint", file.resolve("c.safetensors").toString()));
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains(file + " is a file") && r.err().contains("--checkpoint"), r.err());
        assertFalse(r.err().contains("step 5/"), r.err());
        r = Run.of(args("--steps", "10", "--metrics", file.resolve("m.jsonl").toString()));
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("--metrics") && r.err().contains("is a file"), r.err());
        r = Run.of(args("--steps", "10", "--resume"));
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("--resume needs --checkpoint"), r.err());
        r = Run.of(args("--steps", "10", "--resume", "--overwrite", "--checkpoint", dir.resolve("x.safetensors").toString()));
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("exclude each other"), r.err());
    }

    @Test void keepSetsHowManyStepFilesRemain() throws IOException {
        Path c = dir.resolve("k.safetensors");
        assertEquals(0, Run.of(args("--steps", "20", "--keep", "3", "--checkpoint", c.toString())).exitCode());
        List<String> names;
        try (var s = Files.list(dir)) {
            names = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertEquals(List.of("k.safetensors", "k.step-00000010.safetensors", "k.step-00000015.safetensors", "k.step-00000020.safetensors"), names);
        assertEquals("k.step-00000020.safetensors", Files.readSymbolicLink(c).toString());
        assertEquals(2, Run.of(args("--steps", "20", "--keep", "0", "--checkpoint", dir.resolve("z.safetensors").toString())).exitCode());
    }
}
