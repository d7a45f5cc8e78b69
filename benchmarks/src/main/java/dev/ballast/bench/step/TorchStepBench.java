package dev.ballast.bench.step;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.bench.ClipBench;
import dev.ballast.bench.TorchProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PyTorch's side of {@code ballast bench step}: {@code step_models.py} (the models) and {@code step_bench.py} (the
 * timing loop), resources of this package, run as one script through {@link TorchProcess} with the same specs,
 * thread count and warm-up/median rule as the Ballast side. Eager mode, fused Adam/AdamW (and fused SGD where the
 * installed PyTorch has it), clip_grad_norm_(1.0) each step. Never throws: where python or torch is missing, or
 * the script fails, the figures are empty and the note says why.
 */
public final class TorchStepBench {
    private TorchStepBench() {}

    /** PyTorch's figures for one model. */
    public record Figures(double ms, double faultsPerStep, String optimizer) {}

    /** Figures by model name, and a note: the torch version and threads, or why there are no figures. */
    public record Outcome(Map<String, Figures> figures, String note) {}

    /** The whole script: the model definitions, then the driver. */
    public static String script() { return resource("step_models.py") + "\n" + resource("step_bench.py"); }

    static String resource(String name) {
        try (InputStream in = TorchStepBench.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("resource " + name + " missing from the benchmarks jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs the specs on PyTorch's {@code device} ("cpu" or "cuda") with {@code threads} intra-op threads on the CPU. */
    public static Outcome run(String device, int threads, List<StepSpec> specs, ClipBench.Timing timing) {
        ObjectMapper om = new ObjectMapper();
        ObjectNode cfg = om.createObjectNode();
        cfg.put("device", device);
        cfg.put("threads", threads);
        cfg.put("max_norm", StepModels.MAX_NORM);
        TorchProcess.putTiming(cfg, timing);
        ArrayNode arr = cfg.putArray("models");
        try {
            for (StepSpec s : specs) {
                ObjectNode o = arr.addObject();
                o.put("name", s.name());
                o.set("spec", om.readTree(s.fieldsJson()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        TorchProcess.Outcome r = TorchProcess.run(script(), cfg.toString());
        if (r.failure() != null) return new Outcome(Map.of(), "not measured, " + r.failure());
        JsonNode json = r.json();
        Map<String, Figures> out = new LinkedHashMap<>();
        for (StepSpec s : specs) {
            JsonNode f = json.path("models").path(s.name());
            if (f.isMissingNode()) continue;
            out.put(s.name(), new Figures(f.path("ms").asDouble(), f.path("faults_per_step").asDouble(), f.path("optimizer").asText()));
        }
        return new Outcome(out, "torch " + json.path("torch").asText("?") + ", " + json.path("threads").asInt() + " threads, eager");
    }
}
