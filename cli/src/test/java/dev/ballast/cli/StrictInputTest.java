package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs are read strictly and fail with exit 2 and a message naming what is wrong: JSON with trailing content or a
 * key twice (with the line), files that are not UTF-8, settings the chosen model or task ignores, sizes this machine
 * cannot hold (naming the setting and the bytes), and reference-case files without cases or with a malformed one.
 */
class StrictInputTest {
    @TempDir Path dir;

    Run trainWithConfig(String json) throws Exception {
        Path f = dir.resolve("c.json");
        Files.writeString(f, json);
        return Run.of("train", "--config", f.toString(), "--print-config");
    }

    @Test void configJsonWithTrailingContentOrDuplicateKeysIsRejectedWithTheLine() throws Exception {
        Run r = trainWithConfig("{\"steps\":5}{\"steps\":6}");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("line 1") && r.err().contains("not valid JSON"), r.err());
        r = trainWithConfig("{\n  \"steps\": 5,\n  \"steps\": 6\n}");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("line 3") && r.err().contains("steps"), r.err());
        assertFalse(r.err().contains("Source:"), "no parser noise: " + r.err());
        Path latin1 = dir.resolve("latin1.json");
        Files.write(latin1, new byte[]{'{', '"', 't', 'a', 's', 'k', '"', ':', '"', (byte) 0xE9, '"', '}'});
        r = Run.of("train", "--config", latin1.toString(), "--print-config");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("not UTF-8"), r.err());
        assertFalse(r.err().contains("Input length"), r.err());
    }

    @Test void settingsTheRunIgnoresAreErrors() throws Exception {
        Run r = Run.of("train", "--heads", "8", "--print-config");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("heads does not apply to model mlp") && r.err().contains("--heads"), r.err());
        r = Run.of("train", "--task", "adding", "--vocab", "20", "--print-config");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("vocab does not apply to task adding"), r.err());
        r = Run.of("train", "--momentum", "0.9", "--print-config");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("momentum does not apply to optimizer adam"), r.err());
        assertEquals(0, Run.of("train", "--task", "copy", "--heads", "8", "--print-config").exitCode());
        // what --print-config prints is a config file that reads back
        Run printed = Run.of("train", "--task", "adding", "--print-config");
        assertEquals(0, printed.exitCode());
        assertFalse(printed.out().contains("\"heads\""), printed.out());
        Run back = trainWithConfig(printed.out());
        assertEquals(0, back.exitCode(), back.err());
        assertEquals(printed.out(), back.out());
    }

    @Test void sizesTheMachineCannotHoldNameTheSettingAndTheBytes() {
        // {flag named in the error, args...}: sizes far beyond any machine (terabytes), so the test holds anywhere
        String[][] cases = {{"--width", "--width", "2000000"}, {"--batch", "--batch", "1000000000", "--train-size", "1000000000", "--width", "4096"},
                {"--seq-len", "--task", "adding", "--seq-len", "2000000000"}, {"--vocab", "--task", "copy", "--vocab", "2000000000", "--width", "4096"},
                {"--hidden", "--task", "adding", "--hidden", "1000000"}};
        for (String[] c : cases) {
            String[] args = new String[c.length + 1];
            args[0] = "train";
            System.arraycopy(c, 1, args, 1, c.length - 1);
            args[args.length - 1] = "--print-config";
            Run r = Run.of(args);
            assertEquals(2, r.exitCode(), String.join(" ", c) + ": " + r.out());
            assertTrue(r.err().contains("bytes") && r.err().contains(c[0]) && !r.err().contains("Exception"), String.join(" ", c) + ": " + r.err());
        }
        Run r = Run.of("train", "--batch", "100000000", "--print-config");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("trainSize (4000) must be at least the batch (100000000)"), r.err());
    }

    @Test void referenceFilesWithoutCasesOrWithAMalformedCaseAreUsageErrors() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.json"), "{}");
        Run r = Run.of("verify-reference", empty.toString(), "--device", "cpu");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("holds no cases"), r.err());
        Path noNorm = Files.writeString(dir.resolve("bad.json"),
                "{\"clip\": [{\"shapes\": [[2]], \"grads\": [[1.0, 2.0]], \"norm_type\": 2, \"total_norm\": 2.2, \"clipped\": [[1.0, 2.0]]}]}");
        r = Run.of("verify-reference", noNorm.toString(), "--device", "cpu");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("malformed case clip[0]") && r.err().contains("max_norm"), r.err());
        Path wrongCount = Files.writeString(dir.resolve("count.json"),
                "{\"clip_value\": [{\"shapes\": [[3]], \"clip_value\": 0.5, \"grads\": [[1.0, -0.2]], \"clipped\": [[0.5, -0.2]]}]}");
        r = Run.of("verify-reference", wrongCount.toString(), "--device", "cpu");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("grads[0] must hold 3 values"), r.err());
        Path truncated = Files.writeString(dir.resolve("trunc.json"), "{\"clip\": [{\"shapes\": [[2]], \"grads\": [[1.0,");
        r = Run.of("verify-reference", truncated.toString(), "--device", "cpu");
        assertEquals(2, r.exitCode(), r.out());
        assertTrue(r.err().contains("not valid JSON (line 1"), r.err());
        assertFalse(r.err().contains("Source:") || r.err().contains("REDACTED"), r.err());
    }
}
