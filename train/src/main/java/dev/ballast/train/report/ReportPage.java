package dev.ballast.train.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The report as one self-contained HTML file: Apache ECharts (from its WebJar on the classpath) and the page's own
 * script and style are inlined, the data is embedded as JSON, nothing is fetched when it opens. For each run it
 * draws the loss curves, the global gradient norm with the clip threshold, a layer x step heatmap of gradient norms
 * and the loss scale with skipped steps marked, beside the findings in words; a section with several runs also
 * overlays their loss, gradient norm and test metric.
 */
public final class ReportPage {
    private static final String WEBJAR = "META-INF/resources/webjars/echarts/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ReportPage() {}

    /** The version of the inlined ECharts (from the WebJar's Maven properties). */
    public static String echartsVersion() {
        try (InputStream in = resource("META-INF/maven/org.webjars.npm/echarts/pom.properties")) {
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The page for {@code report}. */
    public static String html(Report report) {
        String version = echartsVersion();
        String echarts = text(WEBJAR + version + "/dist/echarts.min.js");
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(report.title()) + "</title>\n"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                + "<style>\n" + text("dev/ballast/train/report/report.css") + "</style>\n"
                + "<!-- Apache ECharts " + version + " (Apache License 2.0, https://echarts.apache.org), from the org.webjars.npm:echarts WebJar -->\n"
                + "<script>\n" + echarts + "\n</script>\n</head>\n<body>\n<main id=\"app\"></main>\n"
                + "<script type=\"application/json\" id=\"report-data\">" + scriptSafe(data(report)) + "</script>\n"
                + "<script>\n" + text("dev/ballast/train/report/report.js") + "</script>\n</body>\n</html>\n";
    }

    /** Writes {@code report.html} into {@code dir} (temporary file, then rename); returns its path. */
    public static Path write(Path dir, Report report) {
        Path p = dir.resolve(RunFiles.REPORT_HTML);
        try {
            RunFiles.atomic(p, html(report));
        } catch (IOException e) {
            throw new UncheckedIOException("report: writing " + p + " failed: " + e.getMessage(), e);
        }
        return p;
    }

    /** The data the page's script draws from. */
    static String data(Report report) {
        ObjectNode root = RunFiles.reportRoot(report);
        ArrayNode sections = root.putArray("sections");
        for (Report.Section s : report.sections()) {
            ArrayNode runs = RunFiles.sectionNode(sections, s).putArray("runs");
            for (RunLog r : s.runs()) run(runs.addObject(), r);
        }
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void run(ObjectNode o, RunLog r) {
        o.put("name", r.name());
        o.put("title", r.title());
        o.put("clip", r.clip());
        o.put("divergedAt", r.divergedAt());
        o.set("layers", JSON.valueToTree(r.layers()));
        ArrayNode f = o.putArray("findings");
        for (Finding x : r.findings()) {
            ObjectNode n = f.addObject();
            n.put("kind", x.kind());
            n.put("seen", x.seen());
            n.set("cures", JSON.valueToTree(x.cures()));
        }
        ArrayNode steps = o.putArray("steps");
        for (StepRecord s : r.steps()) {
            ObjectNode n = steps.addObject();
            n.put("step", s.step());
            num(n, "loss", s.loss());
            num(n, "grad_norm", s.gradNorm());
            num(n, "loss_scale", s.lossScale());
            n.put("skipped", s.skipped());
            ObjectNode ev = n.putObject("eval");
            for (var e : s.eval().entrySet()) num(ev, e.getKey(), e.getValue());
            ArrayNode ln = n.putArray("layers");
            for (double v : s.layerGradNorms()) {
                if (Double.isFinite(v)) ln.add(v);
                else ln.addNull();
            }
        }
    }

    private static void num(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v);
        else n.putNull(key);
    }

    /** JSON inside a script element: every '<' (only ever inside strings) escaped, so nothing can close it. */
    static String scriptSafe(String json) {
        return json.replace("<", "\\u003c");
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static InputStream resource(String name) {
        InputStream in = ReportPage.class.getClassLoader().getResourceAsStream(name);
        if (in == null) throw new IllegalStateException("report: resource " + name + " is missing from the classpath");
        return in;
    }

    private static String text(String name) {
        try (InputStream in = resource(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
