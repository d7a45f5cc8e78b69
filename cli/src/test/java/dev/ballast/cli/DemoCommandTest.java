package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.train.report.Report;
import dev.ballast.train.report.RunFiles;
import dev.ballast.train.report.RunLog;
import dev.ballast.train.report.StepRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ballast demo --quick}: every story at a small size, end to end (runs, tables, findings, report directory).
 * The claims of the full-size stories are checked by the slow {@code DemoMustShowTest}.
 */
class DemoCommandTest {
    @TempDir Path dir;

    @Test void quickDemoRunsEveryStoryAndWritesTheReport() throws Exception {
        Path out = dir.resolve("demo");
        Run r = Run.of("demo", "--quick", "--device", "cpu", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("ballast demo: device cpu"), r.out());
        assertTrue(r.out().contains("== 1. Depth") && r.out().contains("== 2. Recurrence") && r.out().contains("== 3. Precision")
                && r.out().contains("== final table"), r.out());
        assertTrue(r.out().matches("(?s).*CPU time: \\d+\\.\\d s.*"), r.out());
        assertTrue(r.out().contains("report: " + out.resolve("report.html").toAbsolutePath()), r.out());
        assertTrue(r.out().matches("(?s).*wall time: \\d+\\.\\d s.*"), r.out());
        // one line per run off a console
        assertEquals(4 + 2 + 2 + 1 + 6, r.err().lines().filter(l -> l.matches("  \\S+ .*\\(\\d+ steps, .* CPU-s\\)")).count(), r.err());

        Report report = RunFiles.read(out);
        assertEquals(List.of("Summary", "1. Depth: a 10-layer MLP on spirals-hard (2 turns)", "2. Recurrence: the adding problem, T=50",
                "3. Precision: fp32, bf16 and fp16 with and without loss scaling"),
                report.sections().stream().map(Report.Section::title).toList());
        Report.Table summary = report.sections().getFirst().table();
        assertEquals(List.of("story", "run", "result", "gradients"), summary.headers());
        assertEquals(4 + 3 + 6, summary.rows().size(), summary.text());
        List<RunLog> depth = report.sections().get(1).runs();
        assertEquals(List.of("depth-careless", "depth-xavier", "depth-relu-he", "depth-residual"), depth.stream().map(RunLog::name).toList());
        RunLog careless = depth.getFirst();
        assertEquals("exploding", careless.findings().getFirst().kind(), careless.findings().toString());
        assertTrue(summary.rows().getFirst().get(3).contains("first/last layer grad norm"), summary.rows().getFirst().toString());
        List<RunLog> rec = report.sections().get(2).runs();
        assertEquals(5, rec.size());
        for (RunLog clipped : rec.subList(2, 5)) {
            assertEquals(0, clipped.divergedAt(), clipped.name() + " is clipped and must not diverge");
            assertEquals(1.0, clipped.clip());
        }
        List<RunLog> precision = report.sections().get(3).runs();
        assertEquals(List.of("precision-fp32", "precision-bf16", "precision-fp16-scaled", "precision-fp16-unscaled",
                        "calib-fp16-unscaled", "calib-fp16-scaled"),
                precision.stream().map(RunLog::name).toList());
        assertEquals(List.of(false, false, true, false, false, true), precision.stream().map(RunLog::scaled).toList()); // only the scaled run draws a loss scale
        for (RunLog p : precision)
            assertTrue(p.steps().stream().allMatch(st -> Double.isFinite(st.extra(StepRecord.FIRST_LAYER_ZERO_GRADS))), p.name());
        List<List<String>> precisionRows = summary.rows().subList(7, 13);
        assertTrue(precisionRows.get(2).get(3).contains("loss scale 65536 -> "), precisionRows.get(2).toString());
        for (List<String> row : precisionRows.subList(1, 4))
            assertTrue(row.get(2).contains("loss vs fp32: mean |diff| "), row.toString());
        assertEquals(DemoStories.meanLossGap(precision.get(0), precision.get(0)), 0.0);
        JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertEquals(4, json.get("sections").size());
        assertTrue(Files.isRegularFile(out.resolve("runs/lstm-clip1/metrics.csv")));
        assertTrue(Files.size(out.resolve("report.html")) > 500_000);
    }

    @Test void badOptionsAreUsageErrors() {
        Run r = Run.of("demo", "--stories", "depth,colour");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("'colour' is not one of depth, recurrence, precision"), r.err());
        Run s = Run.of("demo", "--seeds", "0");
        assertEquals(2, s.exitCode());
        assertTrue(s.err().contains("--seeds must be >= 1"), s.err());
        Run d = Run.of("demo", "--device", "tpu");
        assertEquals(2, d.exitCode());
        assertTrue(d.err().contains("unknown device 'tpu'"), d.err());
    }
}
