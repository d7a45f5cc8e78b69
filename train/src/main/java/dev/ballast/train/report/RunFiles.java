package dev.ballast.train.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The files of a run directory and of a report directory, written to a temporary name and renamed.
 * <ul>
 * <li>A run: {@code run.json} (name, title, config, layers, clip, findings, summary, diverged_at),
 *     {@code metrics.jsonl} (one JSON object per logged step: step, loss, lr, grad_norm, skipped, loss_scale,
 *     time_s, eval_&lt;metric&gt;, extra measurements, and layer_grad_norms by layer name; non-finite numbers as the
 *     strings "NaN", "Infinity", "-Infinity"; absent values left out) and {@code metrics.csv} (the same, one column
 *     per value and one {@code grad_norm/<layer>} column per layer; absent values empty).</li>
 * <li>A report ({@code ballast demo}): {@code report.json} (title, subtitle, sections with paragraphs, table and
 *     run names) and one run directory per run under {@code runs/}.</li>
 * </ul>
 * Both get {@code report.html} ({@link ReportPage}).
 */
public final class RunFiles {
    public static final String RUN_JSON = "run.json", METRICS_JSONL = "metrics.jsonl", METRICS_CSV = "metrics.csv",
            REPORT_JSON = "report.json", REPORT_HTML = "report.html", RUNS = "runs";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper LINES = new ObjectMapper();

    private RunFiles() {}

    /** Writes {@code run}'s three files into {@code dir} (created if needed). */
    public static void writeRun(Path dir, RunLog run) {
        try {
            Files.createDirectories(dir);
            ObjectNode meta = JSON.createObjectNode();
            meta.put("name", run.name());
            meta.put("title", run.title());
            meta.set("config", JSON.valueToTree(run.config()));
            meta.set("layers", JSON.valueToTree(run.layers()));
            meta.put("clip", run.clip());
            ArrayNode f = meta.putArray("findings");
            for (Finding x : run.findings()) {
                ObjectNode o = f.addObject();
                o.put("kind", x.kind());
                o.put("seen", x.seen());
                o.set("cures", JSON.valueToTree(x.cures()));
            }
            meta.set("summary", JSON.valueToTree(run.summary()));
            meta.put("diverged_at", run.divergedAt());
            atomic(dir.resolve(RUN_JSON), JSON.writeValueAsString(meta) + "\n");
            StringBuilder lines = new StringBuilder();
            for (StepRecord s : run.steps()) lines.append(LINES.writeValueAsString(line(run, s))).append('\n');
            atomic(dir.resolve(METRICS_JSONL), lines.toString());
            atomic(dir.resolve(METRICS_CSV), csv(run));
        } catch (IOException e) {
            throw new UncheckedIOException("report: writing the run files in " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /** Reads a run directory written by {@link #writeRun}. */
    public static RunLog readRun(Path dir) {
        Path meta = dir.resolve(RUN_JSON), metrics = dir.resolve(METRICS_JSONL);
        for (Path p : List.of(meta, metrics))
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("report: " + p + " is missing (a run directory holds "
                    + RUN_JSON + " and " + METRICS_JSONL + ", written by 'ballast train --out DIR')");
        try {
            JsonNode m = JSON.readTree(meta.toFile());
            List<String> layers = new ArrayList<>();
            m.path("layers").forEach(n -> layers.add(n.asText()));
            List<Finding> findings = new ArrayList<>();
            for (JsonNode n : m.path("findings")) {
                List<String> cures = new ArrayList<>();
                n.path("cures").forEach(c -> cures.add(c.asText()));
                findings.add(new Finding(n.path("kind").asText(), n.path("seen").asText(), cures));
            }
            List<StepRecord> steps = new ArrayList<>();
            try (BufferedReader r = Files.newBufferedReader(metrics, StandardCharsets.UTF_8)) {
                String text;
                int lineNo = 0;
                while ((text = r.readLine()) != null) {
                    lineNo++;
                    if (text.isBlank()) continue;
                    try {
                        steps.add(step(LINES.readTree(text), layers));
                    } catch (IOException | RuntimeException e) {
                        throw new IllegalArgumentException("report: " + metrics + " line " + lineNo + " is not a metrics line: " + e.getMessage(), e);
                    }
                }
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> config = JSON.convertValue(m.path("config"), LinkedHashMap.class);
            @SuppressWarnings("unchecked")
            Map<String, Object> summary = JSON.convertValue(m.path("summary"), LinkedHashMap.class);
            return new RunLog(m.path("name").asText(), m.path("title").asText(), config, layers, m.path("clip").asDouble(),
                    steps, findings, summary, m.path("diverged_at").asLong());
        } catch (IOException e) {
            throw new UncheckedIOException("report: reading " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /** The report's title and subtitle: the head of both {@code report.json} and the page's data. */
    static ObjectNode reportRoot(Report report) {
        ObjectNode root = JSON.createObjectNode();
        root.put("title", report.title());
        root.put("subtitle", report.subtitle());
        return root;
    }

    /** Appends a section's title, paragraphs and table to {@code sections}; the caller adds its runs. */
    static ObjectNode sectionNode(ArrayNode sections, Report.Section s) {
        ObjectNode o = sections.addObject();
        o.put("title", s.title());
        o.set("paragraphs", JSON.valueToTree(s.paragraphs()));
        o.set("headers", JSON.valueToTree(s.table().headers()));
        o.set("rows", JSON.valueToTree(s.table().rows()));
        return o;
    }

    /** Writes a report directory: {@code report.json} and each section's runs under {@code runs/}. */
    public static void writeReport(Path dir, Report report) {
        try {
            Files.createDirectories(dir);
            ObjectNode root = reportRoot(report);
            ArrayNode sections = root.putArray("sections");
            for (Report.Section s : report.sections()) {
                ArrayNode names = sectionNode(sections, s).putArray("runs");
                for (RunLog r : s.runs()) {
                    names.add(r.name());
                    writeRun(dir.resolve(RUNS).resolve(r.name()), r);
                }
            }
            atomic(dir.resolve(REPORT_JSON), JSON.writeValueAsString(root) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("report: writing " + dir + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Reads what {@code dir} holds: a report directory ({@code report.json}) or a single run ({@code run.json}),
     * the latter as a one-section report.
     */
    public static Report read(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("report: " + dir + " is not a directory");
        if (Files.isRegularFile(dir.resolve(REPORT_JSON))) return readReport(dir);
        if (Files.isRegularFile(dir.resolve(RUN_JSON))) {
            RunLog run = readRun(dir);
            return single(run);
        }
        throw new IllegalArgumentException("report: " + dir + " holds neither " + REPORT_JSON + " (written by 'ballast demo') nor "
                + RUN_JSON + " (written by 'ballast train --out DIR')");
    }

    /** The one-section report of a single run. */
    public static Report single(RunLog run) {
        List<List<String>> rows = new ArrayList<>();
        for (var e : run.summary().entrySet())
            rows.add(List.of(e.getKey(), e.getValue() instanceof Double d ? Findings.num(d) : String.valueOf(e.getValue())));
        return new Report("Ballast run: " + run.title(), "settings: " + settings(run.config()),
                List.of(new Report.Section("Results", List.of(), new Report.Table(List.of("result", "value"), rows), List.of(run))));
    }

    private static String settings(Map<String, Object> config) {
        StringBuilder sb = new StringBuilder();
        for (var e : config.entrySet()) sb.append(sb.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
        return sb.toString();
    }

    private static Report readReport(Path dir) {
        try {
            JsonNode root = JSON.readTree(dir.resolve(REPORT_JSON).toFile());
            List<Report.Section> sections = new ArrayList<>();
            for (JsonNode s : root.path("sections")) {
                List<String> paragraphs = new ArrayList<>(), headers = new ArrayList<>();
                s.path("paragraphs").forEach(n -> paragraphs.add(n.asText()));
                s.path("headers").forEach(n -> headers.add(n.asText()));
                List<List<String>> rows = new ArrayList<>();
                for (JsonNode r : s.path("rows")) {
                    List<String> row = new ArrayList<>();
                    r.forEach(n -> row.add(n.asText()));
                    rows.add(row);
                }
                List<RunLog> runs = new ArrayList<>();
                for (JsonNode n : s.path("runs")) runs.add(readRun(dir.resolve(RUNS).resolve(n.asText())));
                sections.add(new Report.Section(s.path("title").asText(), paragraphs, new Report.Table(headers, rows), runs));
            }
            return new Report(root.path("title").asText(), root.path("subtitle").asText(), sections);
        } catch (IOException e) {
            throw new UncheckedIOException("report: reading " + dir.resolve(REPORT_JSON) + " failed: " + e.getMessage(), e);
        }
    }

    /** Writes {@code text} to {@code target} through a temporary file in the same directory and a rename. */
    public static void atomic(Path target, String text) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // a name of our own beside the target (not createTempFile, whose 0600 mode the renamed file would keep)
        Path tmp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "." + Thread.currentThread().threadId() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Map<String, Object> line(RunLog run, StepRecord s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", s.step());
        if (!Double.isNaN(s.loss()) || s.step() == run.divergedAt()) m.put("loss", num(s.loss()));
        putIfPresent(m, "lr", s.lr());
        putIfPresent(m, "grad_norm", s.gradNorm());
        m.put("skipped", s.skipped());
        putIfPresent(m, "loss_scale", s.lossScale());
        putIfPresent(m, "time_s", s.timeS());
        for (var e : s.eval().entrySet()) m.put("eval_" + e.getKey(), num(e.getValue()));
        for (var e : s.extra().entrySet()) m.put(e.getKey(), num(e.getValue()));
        double[] ln = s.layerGradNorms();
        if (ln.length > 0) {
            Map<String, Object> layers = new LinkedHashMap<>();
            for (int i = 0; i < ln.length && i < run.layers().size(); i++) layers.put(run.layers().get(i), num(ln[i]));
            m.put("layer_grad_norms", layers);
        }
        return m;
    }

    private static final Set<String> KNOWN = Set.of("step", "loss", "lr", "grad_norm", "skipped", "loss_scale", "time_s", "layer_grad_norms");

    private static StepRecord step(JsonNode n, List<String> layers) {
        if (!n.has("step")) throw new IllegalArgumentException("no 'step'");
        double[] ln = new double[0];
        JsonNode l = n.get("layer_grad_norms");
        if (l != null) {
            ln = new double[layers.size()];
            for (int i = 0; i < ln.length; i++) ln[i] = dbl(l.get(layers.get(i)));
        }
        Map<String, Double> eval = new LinkedHashMap<>(), extra = new LinkedHashMap<>();
        for (var it = n.fields(); it.hasNext(); ) {
            var e = it.next();
            if (KNOWN.contains(e.getKey())) continue;
            if (e.getKey().startsWith("eval_")) eval.put(e.getKey().substring(5), dbl(e.getValue()));
            else if (e.getValue().isNumber() || e.getValue().isTextual()) extra.put(e.getKey(), dbl(e.getValue()));
        }
        return new StepRecord(n.get("step").asLong(), dbl(n.get("loss")), dbl(n.get("lr")), dbl(n.get("grad_norm")), ln,
                dbl(n.get("loss_scale")), n.path("skipped").asBoolean(false), eval, extra, dbl(n.get("time_s")));
    }

    private static double dbl(JsonNode n) {
        if (n == null || n.isNull()) return Double.NaN;
        if (n.isNumber()) return n.asDouble();
        if (n.isTextual()) return Double.parseDouble(n.asText());
        throw new IllegalArgumentException("expected a number, got " + n);
    }

    private static void putIfPresent(Map<String, Object> m, String key, double v) {
        if (!Double.isNaN(v)) m.put(key, num(v));
    }

    private static Object num(double v) {
        if (Double.isFinite(v)) return v;
        return Double.isNaN(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    }

    private static String csv(RunLog run) throws IOException {
        Set<String> evals = new TreeSet<>(), extras = new TreeSet<>(); // sorted: the records' maps have no order
        for (StepRecord s : run.steps()) {
            evals.addAll(s.eval().keySet());
            extras.addAll(s.extra().keySet());
        }
        List<String> cols = new ArrayList<>(List.of("step", "loss", "lr", "grad_norm", "skipped", "loss_scale", "time_s"));
        for (String e : evals) cols.add("eval_" + e);
        cols.addAll(extras);
        for (String l : run.layers()) cols.add("grad_norm/" + l);
        List<List<String>> rows = new ArrayList<>();
        for (StepRecord s : run.steps()) {
            String loss = s.step() == run.divergedAt() ? Double.toString(s.loss()) : cell(s.loss());
            List<String> r = new ArrayList<>(List.of(Long.toString(s.step()), loss, cell(s.lr()), cell(s.gradNorm()),
                    Boolean.toString(s.skipped()), cell(s.lossScale()), cell(s.timeS())));
            for (String e : evals) r.add(cell(s.eval().getOrDefault(e, Double.NaN)));
            for (String e : extras) r.add(cell(s.extra(e)));
            for (int i = 0; i < run.layers().size(); i++) r.add(cell(s.layerGradNorm(i)));
            rows.add(r);
        }
        CsvSchema.Builder schema = CsvSchema.builder().setUseHeader(false);
        CsvMapper mapper = new CsvMapper();
        StringBuilder sb = new StringBuilder(mapper.writer(schema.build()).writeValueAsString(cols));
        for (List<String> r : rows) sb.append(mapper.writer(schema.build()).writeValueAsString(r));
        return sb.toString();
    }

    private static String cell(double v) {
        return Double.isNaN(v) ? "" : Double.toString(v);
    }
}
