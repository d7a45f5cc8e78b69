package dev.ballast.train.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report page: self-contained (ECharts inlined, no external URL loaded), its data safe inside the script element,
 * and, rendered in headless Chromium, every chart drawn with data and ink on its canvas. Skips with the reason where
 * no Chromium is installed.
 */
class ReportPageTest {
    @TempDir Path dir;

    /** A recorded real run, a diverged one and a loss-scaled one with skipped steps, in a two-run and a one-run section. */
    static Report sample() {
        RunLog real = RunRecorderTest.record(RunRecorderTest.tiny(30, Map.of("clip", 1.0)), new TreeMap<>());
        List<StepRecord> bad = new ArrayList<>();
        for (int s = 1; s <= 6; s++)
            bad.add(new StepRecord(5L * s, s < 6 ? 0.7 : Double.NaN, 0.1, s < 6 ? Math.pow(10, s) : Double.NaN,
                    new double[]{Math.pow(10, s + 2), Math.pow(10, s + 1), Math.pow(10, s), 1, 0.1}, Double.NaN, false,
                    Map.of(), Map.of(), s));
        RunLog diverged = new RunLog("diverged-</script>-run".replaceAll("[^A-Za-z0-9-]", ""), "a diverged run </script><b>x</b>",
                Map.of("model", "mlp"), List.of("a.weight", "b.weight", "c.weight", "d.weight", "e.weight"), 0, bad, List.of(),
                Map.of(), 30);
        diverged = diverged.withFindings(Findings.of(diverged, dev.ballast.stability.monitor.Diagnosis.diagnose(List.of(), null, 30,
                Double.NaN, dev.ballast.stability.monitor.ModelTraits.unknown(0.1))));
        List<StepRecord> scaled = new ArrayList<>();
        double scale = 65536;
        for (int s = 1; s <= 20; s++) {
            boolean skip = s % 7 == 0;
            if (skip) scale /= 2;
            scaled.add(new StepRecord(10L * s, 1.0 / s, 1e-3, 1 + s % 3, new double[]{1, 2, 3, 4}, scale, skip,
                    s % 5 == 0 ? Map.of("accuracy", s / 20.0, "loss", 1.0 / s) : Map.of(), Map.of(StepRecord.FIRST_LAYER_ZERO_GRADS, 0.01), s));
        }
        RunLog amp = new RunLog("amp", "fp16 with dynamic scaling", Map.of("model", "mlp", "precision", "fp16"),
                List.of("w0", "w1", "w2", "w3"), 0, scaled, List.of(), Map.of(), 0);
        amp = amp.withFindings(Findings.of(amp, List.of()));
        return new Report("Sample report", "device cpu", List.of(
                new Report.Section("Summary, no runs", List.of("a table only"), new Report.Table(List.of("a", "b"), List.of(List.of("1", "2"))), List.of()),
                new Report.Section("Two runs", List.of("A paragraph with <tags> & ampersands."),
                        new Report.Table(List.of("run", "result"), List.of(List.of("real", "ok"), List.of("diverged", "NaN at 30"))),
                        List.of(real, diverged)),
                new Report.Section("One run", List.of(), null, List.of(amp))));
    }

    @Test void pageIsSelfContained() throws Exception {
        String html = ReportPage.html(sample());
        assertFalse(Pattern.compile("(src|href)\\s*=\\s*[\"']?(https?:)?//").matcher(html).find(), "the page loads nothing from a URL");
        assertTrue(html.contains("echarts") && html.length() > 500_000, "ECharts is inlined");
        String data = html.substring(html.indexOf("id=\"report-data\">"), html.indexOf("</script>", html.indexOf("id=\"report-data\">")));
        assertFalse(data.contains("<"), "no '<' inside the data script (it could close the element)");
        assertTrue(data.contains("\\u003c/script>\\u003cb>x\\u003c/b>"), "the title's markup is kept as text");
        assertEquals("5.3.1", ReportPage.echartsVersion());
    }

    @Test void everyChartIsDrawnInHeadlessChromium() throws Exception {
        var browser = Chromium.find();
        assumeTrue(browser.isPresent(), "no headless Chromium (install Debian's 'chromium' package or set BALLAST_CHROMIUM)");
        Report report = sample();
        Path page = ReportPage.write(dir, report);
        String dom = Chromium.dumpDom(browser.get(), page, dir.resolve("profile"), 20_000);
        // section 1: three overlays (loss, norm, test metric) + 4 per run; section 2: 4 charts
        int expected = 3 + 4 * 2 + 4;
        Matcher body = Pattern.compile("<body[^>]*data-charts-total=\"(\\d+)\"[^>]*data-charts-drawn=\"(\\d+)\"").matcher(dom);
        assertTrue(body.find(), "the page script ran and marked <body>: " + dom.substring(0, Math.min(2000, dom.length())));
        assertEquals(expected, Integer.parseInt(body.group(1)), "charts on the page");
        assertEquals(expected, Integer.parseInt(body.group(2)), "charts drawn");
        Matcher chart = Pattern.compile("<div class=\"chart[^\"]*\" data-chart=\"([^\"]+)\"([^>]*)>").matcher(dom);
        Map<String, String> charts = new LinkedHashMap<>();
        while (chart.find()) charts.put(chart.group(1), chart.group(2));
        assertEquals(expected, charts.size(), charts.keySet().toString());
        for (var e : charts.entrySet()) {
            Matcher points = Pattern.compile("data-points=\"(\\d+)\"").matcher(e.getValue());
            Matcher ink = Pattern.compile("data-drawn=\"(\\d+)\"").matcher(e.getValue());
            assertTrue(points.find() && ink.find(), e.getKey() + " was not drawn: " + e.getValue());
            assertTrue(Integer.parseInt(points.group(1)) > 0, e.getKey() + " has no data points");
            assertTrue(Integer.parseInt(ink.group(1)) > 300, e.getKey() + " has almost no ink on its canvas: " + ink.group(1));
        }
        assertTrue(dom.contains("a diverged run &lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"), "markup in a title is shown as text");
        assertTrue(dom.contains("non-finite") && dom.contains("the loss was NaN at step 30"), "findings are on the page");
        Path png = dir.resolve("shot.png");
        Chromium.screenshot(browser.get(), page, dir.resolve("profile2"), 20_000, png, 1200, 900);
        assertTrue(Files.size(png) > 20_000, "a screenshot with content");
    }
}
