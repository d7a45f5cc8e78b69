package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.train.tensorboard.TfRecord;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradient norms mean the same in fp16 as in fp32: the same spirals MLP trained both ways (same seed; fp16 with dynamic
 * loss scaling, whose gradients carry a scale of 2^16 when the health monitor reads them) reports the same global and
 * per-parameter gradient norms and largest |g| on the metrics lines ({@code grad_global_norm}, {@code health}), the same
 * TensorBoard {@code grad/} scalars and histogram ranges, and the same norms in the run report ({@code --out}). fp16
 * rounds the matrix products, so the numbers differ a little (within {@value #RTOL} relative); without dividing the
 * scale out they were 2^16 times too large.
 */
class MixedPrecisionNormsTest {
    /** Relative tolerance between the fp16 and the fp32 run's norms (fp16 products; measured: 0.79% at most, printed by the test). */
    static final double RTOL = 0.05;

    @TempDir Path dir;

    private record Outputs(List<JsonNode> metrics, Map<String, Map<Long, Double>> scalars, Map<String, Map<Long, double[]>> histograms,
                           List<JsonNode> report) {}

    private Outputs train(String precision) throws IOException {
        Path d = dir.resolve(precision), metrics = d.resolve("m.jsonl"), tb = d.resolve("tb"), out = d.resolve("run");
        Files.createDirectories(d);
        Run r = Run.of("train", "--task", "spirals", "--steps", "30", "--depth", "3", "--width", "32", "--batch", "64",
                "--train-size", "1024", "--test-size", "128", "--log-every", "10", "--lr", "0.01", "--seed", "4", "--device", "cpu",
                "--precision", precision, "--metrics", metrics.toString(), "--tensorboard", tb.toString(), "--out", out.toString());
        assertEquals(0, r.exitCode(), r.err());
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> lines = new ArrayList<>();
        for (String l : Files.readAllLines(metrics)) lines.add(json.readTree(l));
        List<JsonNode> report = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("metrics.jsonl"))) report.add(json.readTree(l));
        Map<String, Map<Long, Double>> scalars = new TreeMap<>();
        Map<String, Map<Long, double[]>> histograms = new TreeMap<>();
        try (Stream<Path> files = Files.list(tb)) {
            for (Path f : files.toList()) {
                try (InputStream in = Files.newInputStream(f)) {
                    for (byte[] rec : TfRecord.readAll(in)) readEvent(rec, scalars, histograms);
                }
            }
        }
        return new Outputs(lines, scalars, histograms, report);
    }

    @Test
    void fp16ReportsTheSameGradientNormsAsFp32() throws IOException {
        Outputs f32 = train("fp32"), f16 = train("fp16");
        // the fp16 run really scales its gradients
        List<JsonNode> scaled = f16.metrics().stream().filter(n -> n.has("loss_scale")).toList();
        assertFalse(scaled.isEmpty(), "fp16 lines carry loss_scale");
        assertTrue(scaled.stream().allMatch(n -> n.get("loss_scale").asDouble() >= 1024), "the fp16 run's loss scale: " + scaled);

        // metrics lines: grad_global_norm and each parameter's grad_norm / max_abs_grad
        List<JsonNode> h32 = f32.metrics().stream().filter(n -> n.has("health")).toList();
        List<JsonNode> h16 = f16.metrics().stream().filter(n -> n.has("health")).toList();
        assertEquals(3, h32.size(), "a monitor reading at steps 10, 20, 30");
        assertEquals(h32.size(), h16.size());
        int compared = 0;
        for (int i = 0; i < h32.size(); i++) {
            JsonNode a = h32.get(i), b = h16.get(i);
            assertEquals(a.get("health_step").asLong(), b.get("health_step").asLong());
            close(a.get("grad_global_norm").asDouble(), b.get("grad_global_norm").asDouble(), "metrics grad_global_norm step " + a.get("step"));
            for (var e : a.get("health").properties()) {
                JsonNode p = b.get("health").get(e.getKey());
                for (String k : new String[] {"grad_norm", "max_abs_grad"}) {
                    close(e.getValue().get(k).asDouble(), p.get(k).asDouble(), "metrics " + e.getKey() + " " + k + " step " + a.get("step"));
                    compared++;
                }
            }
        }
        assertTrue(compared >= 3 * 8 * 2, "compared " + compared);

        // TensorBoard: grad/global_norm and grad/norm/<parameter> at every reading, histograms over the same binades
        List<String> tags = f32.scalars().keySet().stream().filter(t -> t.startsWith("grad/")).toList();
        assertTrue(tags.contains("grad/global_norm") && tags.contains("grad/norm/body.0.weight"), tags.toString());
        assertEquals(tags, f16.scalars().keySet().stream().filter(t -> t.startsWith("grad/")).toList());
        for (String t : tags)
            for (var e : f32.scalars().get(t).entrySet())
                close(e.getValue(), f16.scalars().get(t).get(e.getKey()), "tensorboard " + t + " step " + e.getKey());
        assertFalse(f32.histograms().isEmpty());
        for (var e : f32.histograms().entrySet())
            for (var s : e.getValue().entrySet()) {
                double[] a = s.getValue(), b = f16.histograms().get(e.getKey()).get(s.getKey());
                // max = upper edge of the top binade of log2 |g|: the same binade, or the next one for a value at its edge
                assertTrue(Math.abs(a[1] - b[1]) <= 1, "tensorboard " + e.getKey() + " step " + s.getKey() + " top edge fp32 " + a[1] + " fp16 " + b[1]);
                assertTrue(Math.abs(a[2] - b[2]) <= 0.5 + 0.01 * a[2], "tensorboard " + e.getKey() + " step " + s.getKey() + " count");
            }

        // the run report (--out): the global and per-layer gradient norms of each logged step
        List<JsonNode> r32 = f32.report().stream().filter(n -> n.has("grad_norm")).toList();
        List<JsonNode> r16 = f16.report().stream().filter(n -> n.has("grad_norm")).toList();
        assertEquals(r32.size(), r16.size());
        assertTrue(r32.size() >= 3, r32.toString());
        for (int i = 0; i < r32.size(); i++) {
            close(r32.get(i).get("grad_norm").asDouble(), r16.get(i).get("grad_norm").asDouble(), "report grad_norm step " + r32.get(i).get("step"));
            for (var e : r32.get(i).get("layer_grad_norms").properties())
                close(e.getValue().asDouble(), r16.get(i).get("layer_grad_norms").get(e.getKey()).asDouble(),
                        "report " + e.getKey() + " step " + r32.get(i).get("step"));
        }
        System.out.printf(java.util.Locale.ROOT, "MixedPrecisionNormsTest: largest relative difference fp16 vs fp32 %.3g%n", worst);
    }

    private double worst;

    private void close(double fp32, double fp16, String what) {
        assertTrue(fp32 > 0 && Double.isFinite(fp32), what + ": fp32 " + fp32);
        worst = Math.max(worst, Math.abs(fp16 - fp32) / fp32);
        assertTrue(Math.abs(fp16 - fp32) <= RTOL * fp32, what + ": fp32 " + fp32 + ", fp16 " + fp16 + " (ratio " + fp16 / fp32 + ")");
    }

    // ------------------------------------------------------------------ a few protobuf fields of TensorBoard events

    /** Event {step = 2, summary = 5 {value = 1 {tag = 1, simple_value = 2, histo = 5 {min = 1, max = 2, num = 3}}}}. */
    private static void readEvent(byte[] event, Map<String, Map<Long, Double>> scalars, Map<String, Map<Long, double[]>> histograms)
            throws IOException {
        long step = 0;
        List<byte[]> summaries = new ArrayList<>();
        for (TfRecord.ProtoField f : fields(event)) {
            if (f.number() == 2) step = f.bits();
            if (f.number() == 5) summaries.add(f.bytes());
        }
        for (byte[] s : summaries)
            for (TfRecord.ProtoField v : fields(s)) {
                if (v.number() != 1) continue;
                String tag = null;
                Double simple = null;
                double[] histo = null;
                for (TfRecord.ProtoField x : fields(v.bytes())) {
                    if (x.number() == 1) tag = new String(x.bytes(), StandardCharsets.UTF_8);
                    if (x.number() == 2) simple = (double) Float.intBitsToFloat((int) x.bits());
                    if (x.number() == 5) {
                        histo = new double[3];
                        for (TfRecord.ProtoField y : fields(x.bytes()))
                            if (y.number() >= 1 && y.number() <= 3) histo[y.number() - 1] = Double.longBitsToDouble(y.bits());
                    }
                }
                if (simple != null) scalars.computeIfAbsent(tag, k -> new TreeMap<>()).put(step, simple);
                if (histo != null) histograms.computeIfAbsent(tag, k -> new TreeMap<>()).put(step, histo);
            }
    }

    private static List<TfRecord.ProtoField> fields(byte[] b) throws IOException {
        return TfRecord.fields(b);
    }
}
