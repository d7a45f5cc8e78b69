package dev.ballast.train.health;

import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.data.Batch;
import dev.ballast.stability.clip.AutoClip;
import dev.ballast.stability.clip.ClipGrad;
import dev.ballast.stability.clip.ZClip;
import dev.ballast.train.Trainer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Adaptive clipping before each step ({@code --clip-adaptive}): {@code agc:λ} (unit-wise AGC, ratio λ),
 * {@code autoclip:p} (the p-th percentile of the norm history), {@code zclip:z} (EMA z-score threshold z). Runs after
 * the monitor and the guard have seen the raw gradients; its state goes into checkpoints under {@code adaptive_clip.}.
 */
final class AdaptiveClipHook implements Trainer.StepHook, AutoCloseable {
    static final String ALLOWED = "agc:<ratio> (e.g. agc:0.01), autoclip:<percentile> (e.g. autoclip:10), zclip:<z> (e.g. zclip:2.5)";

    private final List<Tensor> params;
    private final Device device;
    private final String kind;
    private final double value;
    private final AutoClip autoClip;
    private final ZClip zClip;

    private AdaptiveClipHook(List<Tensor> params, Device device, String kind, double value) {
        this.params = List.copyOf(params);
        this.device = device;
        this.kind = kind;
        this.value = value;
        this.autoClip = kind.equals("autoclip") ? new AutoClip(value) : null;
        this.zClip = kind.equals("zclip") ? new ZClip(device, value) : null;
    }

    /** A parsed {@code --clip-adaptive} value. */
    record Spec(String kind, double value) {}

    /** Parses {@code agc:0.01}, {@code autoclip:10} or {@code zclip:2.5}; throws naming what is allowed. */
    static Spec spec(String spec) {
        String s = spec.strip().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        String kind = colon < 0 ? s : s.substring(0, colon);
        if (!List.of("agc", "autoclip", "zclip").contains(kind) || colon < 0)
            throw new IllegalArgumentException("clip-adaptive: '" + spec + "' is not one of " + ALLOWED);
        double v;
        try {
            v = Double.parseDouble(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("clip-adaptive: the value in '" + spec + "' must be a number; allowed: " + ALLOWED);
        }
        if (!(v > 0) || Double.isInfinite(v) || (kind.equals("autoclip") && v > 100))
            throw new IllegalArgumentException("clip-adaptive: the value in '" + spec + "' must be > 0" + (kind.equals("autoclip") ? " and <= 100" : ""));
        return new Spec(kind, v);
    }

    /** The hook for {@code spec} over {@code params} on {@code device}. */
    static AdaptiveClipHook parse(String spec, List<Tensor> params, Device device) {
        Spec s = spec(spec);
        return new AdaptiveClipHook(params, device, s.kind(), s.value());
    }

    @Override public boolean beforeStep(long step, Batch batch, Tensor loss) {
        switch (kind) {
            case "agc" -> {
                try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
                    ClipGrad.adaptiveClipGrad(params, value, 1e-3);
                }
            }
            case "autoclip" -> autoClip.clip(params);
            default -> {
                try (Scope s = Scope.open()) {
                    zClip.clip(params);
                }
            }
        }
        return true;
    }

    /** The clipper's state for a checkpoint, keys prefixed {@code adaptive_clip.<kind>.} (AGC has none). */
    Map<String, Tensor> state() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        Map<String, Tensor> s = autoClip != null ? autoClip.stateDict(device) : zClip != null ? zClip.stateDict() : Map.of();
        for (var e : s.entrySet()) m.put("adaptive_clip." + kind + "." + e.getKey(), e.getValue());
        return m;
    }

    @Override public void close() {
        if (zClip != null) zClip.close();
    }
}
