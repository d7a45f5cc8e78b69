package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ballast train --out} writes a run directory; {@code ballast report} rebuilds its page; errors are named. */
class ReportCommandTest {
    @TempDir Path dir;

    @Test void trainOutWritesTheRunAndReportRebuildsThePage() throws Exception {
        Path run = dir.resolve("run");
        Run r = Run.of("train", "--task", "spirals", "--steps", "20", "--depth", "4", "--width", "16", "--train-size", "256",
                "--test-size", "64", "--batch", "32", "--log-every", "5", "--eval-every", "10", "--clip", "2", "--device", "cpu",
                "--out", run.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("report: " + run.resolve("report.html")), r.err());
        assertTrue(r.err().contains("diagnosis: "), "findings are printed: " + r.err());
        for (String f : List.of("run.json", "metrics.jsonl", "metrics.csv", "report.html"))
            assertTrue(Files.isRegularFile(run.resolve(f)), f + " missing");
        List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
        assertEquals(4, lines.size());
        JsonNode last = new ObjectMapper().readTree(lines.getLast());
        assertEquals(20, last.get("step").asLong());
        assertEquals(5, last.get("layer_grad_norms").size(), "4 hidden layers and the head");
        assertTrue(last.get("grad_norm").asDouble() > 0 && last.has("eval_accuracy"), last.toString());
        JsonNode meta = new ObjectMapper().readTree(run.resolve("run.json").toFile());
        assertEquals(2.0, meta.get("clip").asDouble());
        assertEquals(20, meta.get("summary").get("steps").asLong());

        Files.delete(run.resolve("report.html"));
        Run again = Run.of("report", run.toString());
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("(1 runs)"), again.out());
        String html = Files.readString(run.resolve("report.html"));
        assertTrue(html.contains("\"divergedAt\":0") && html.contains("body.0.weight"), "the page holds the run's data");
    }

    @Test void divergedRunStillWritesItsReport() throws Exception {
        Path run = dir.resolve("bad");
        Run r = Run.of("train", "--task", "teacher-student", "--optimizer", "sgd", "--lr", "1e6", "--steps", "50",
                "--log-every", "1", "--train-size", "128", "--test-size", "32", "--batch", "16", "--device", "cpu", "--out", run.toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.out().contains("diagnosis: non-finite: "), r.out());
        JsonNode meta = new ObjectMapper().readTree(run.resolve("run.json").toFile());
        assertTrue(meta.toString().contains("the loss was Infinity at step") || meta.toString().contains("the loss was NaN at step"),
                "the report holds the same diagnosis: " + meta);
        assertTrue(meta.get("diverged_at").asLong() > 0, meta.toString());
        assertTrue(Files.isRegularFile(run.resolve("report.html")));
    }

    @Test void reportOfADirectoryWithoutARunSaysWhatIsMissing() {
        Run r = Run.of("report", dir.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("holds neither report.json") && r.err().contains("ballast train --out"), r.err());
        Run none = Run.of("report", dir.resolve("nope").toString());
        assertEquals(1, none.exitCode());
        assertTrue(none.err().contains("is not a directory"), none.err());
    }
}
