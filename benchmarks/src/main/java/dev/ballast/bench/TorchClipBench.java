package dev.ballast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * PyTorch's side of {@code ballast bench clip}: an inline script run with {@code python3 -c} times
 * {@code clip_grad_norm_(max_norm=1.0)} (foreach on CUDA; PyTorch's default choice on the CPU) and one AdamW step
 * ({@code fused=True}, PyTorch's fastest AdamW on CUDA and, since 2.4, on the CPU) on the same shapes and device, with the same
 * warm-up and median rule as the Ballast side. AdamW runs on F32 parameters and gradients (the master copies
 * of a mixed-precision set), clipping on gradients of each tensor's own dtype. The mixed-precision row times
 * {@code GradScaler.unscale_} + {@code clip_grad_norm_} + {@code scaler.step} (AdamW {@code fused=True}, which
 * PyTorch also runs on the CPU) + {@code scaler.update()} at scale 1 (values stay put across repetitions). Where python3 or torch is
 * missing, or the script fails, every figure is null and one line says why.
 */
public final class TorchClipBench {
    private TorchClipBench() {}

    /** PyTorch's figures for one set, null where not measured. */
    public record Figures(Double clipMs, Double adamwMs, Double ampMs) {
        static final Figures NONE = new Figures(null, null, null);
    }

    /** The per-set part of the script; {@link TorchProcess#PREAMBLE} supplies cfg, dev, cuda, bench and the generator. */
    public static final String SCRIPT = TorchProcess.PREAMBLE + String.join("\n",
        "DT = {'f32': torch.float32, 'f16': torch.float16, 'bf16': torch.bfloat16}",
        "res = {}",
        "for st in cfg['sets']:",
        "    shapes = [(tuple(s), DT[d]) for s, d in st['tensors']]",
        "    ps = [torch.nn.Parameter(torch.randn(*s, device=dev, dtype=d, generator=g)) for s, d in shapes]",
        "    for p in ps: p.grad = torch.randn(*p.shape, device=dev, dtype=p.dtype, generator=g)",
        "    fe = True if cuda else None",
        "    clip = bench(lambda: torch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=fe))",
        "    if any(d != torch.float32 for s, d in shapes):",
        "        del ps",
        "        ps = [torch.nn.Parameter(torch.randn(*s, device=dev, generator=g)) for s, d in shapes]",
        "        for p in ps: p.grad = torch.randn(*p.shape, device=dev, generator=g)",
        "    opt = torch.optim.AdamW(ps, lr=1e-6, fused=True)",
        "    adamw = bench(lambda: opt.step())",
        "    del opt",
        "    opt = torch.optim.AdamW(ps, lr=1e-6, fused=True)",
        "    scaler = torch.amp.GradScaler(dev, init_scale=1.0)",
        "    scaler.scale(torch.ones((), device=dev))  # creates the scale tensor, as scaling the loss would",
        "    def amp_step():",
        "        scaler.unscale_(opt)",
        "        torch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=fe)",
        "        scaler.step(opt)",
        "        scaler.update()",
        "    amp = bench(amp_step)",
        "    res[st['name']] = {'clip_ms': clip, 'adamw_ms': adamw, 'amp_ms': amp}",
        "    del ps, opt",
        "    if cuda: torch.cuda.empty_cache()",
        "print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'sets': res}))");

    /**
     * Runs the script for {@code sets} on {@code device} ("cpu" or "cuda"); returns figures by set name (every
     * set present, null figures where not measured). {@code log} gets the torch version line or why it did not run.
     */
    public static Map<String, Figures> run(String device, List<ClipShapes.GradSet> sets, ClipBench.Timing timing,
                                           Consumer<String> log) {
        Map<String, Figures> out = new LinkedHashMap<>();
        for (ClipShapes.GradSet s : sets) out.put(s.name(), Figures.NONE);
        if (sets.isEmpty()) return out;
        ObjectMapper om = new ObjectMapper();
        ObjectNode cfg = om.createObjectNode();
        cfg.put("device", device);
        TorchProcess.putTiming(cfg, timing);
        ArrayNode arr = cfg.putArray("sets");
        for (ClipShapes.GradSet s : sets) {
            ObjectNode o = arr.addObject();
            o.put("name", s.name());
            ArrayNode ts = o.putArray("tensors");
            for (ClipShapes.Entry e : s.tensors()) {
                ArrayNode t = ts.addArray();
                ArrayNode dims = t.addArray();
                for (long d : e.shape()) dims.add(d);
                t.add(e.dtype().label());
            }
        }
        TorchProcess.Outcome r = TorchProcess.run(SCRIPT, cfg.toString());
        if (r.failure() != null) {
            log.accept("torch: not measured, " + r.failure());
            return out;
        }
        JsonNode json = r.json();
        log.accept("torch " + json.path("torch").asText("?") + ", " + json.path("threads").asInt() + " threads");
        for (ClipShapes.GradSet s : sets) {
            JsonNode f = json.path("sets").path(s.name());
            if (f.isMissingNode()) continue;
            out.put(s.name(), new Figures(f.path("clip_ms").asDouble(), f.path("adamw_ms").asDouble(),
                    f.path("amp_ms").isNumber() ? f.path("amp_ms").asDouble() : null));
        }
        return out;
    }
}
