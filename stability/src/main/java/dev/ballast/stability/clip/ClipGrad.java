package dev.ballast.stability.clip;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gradient clipping with PyTorch's semantics: {@code clipGradNorm} (torch.nn.utils.clip_grad_norm_),
 * {@code clipGradValue} (clip_grad_value_), and per-parameter and per-layer norm clipping (as DL4J's
 * ClipL2PerParamType and ClipL2PerLayer). Parameters without a gradient are skipped. The norm pass reads
 * every gradient once and the coefficient stays on the device: nothing here syncs with the host unless
 * {@code errorIfNonfinite} is asked for.
 */
public final class ClipGrad {
    private ClipGrad() {}

    /**
     * Scales all gradients by {@code min(maxNorm / (total + 1e-6), 1)} where total is the {@code normType}-norm
     * (1, 2, infinity or any p > 0) of all gradients together, and returns the total norm as a 0-d F32 device
     * tensor (read it with {@code item()} when you want it: that syncs). A non-finite total makes every gradient
     * non-finite, as in PyTorch.
     */
    public static Tensor clipGradNorm(List<Tensor> params, double maxNorm, double normType) {
        return clipGradNorm(params, maxNorm, normType, false);
    }

    /**
     * As {@link #clipGradNorm(List, double, double)}; with {@code errorIfNonfinite} it first reads the
     * non-finite flag on the host (a sync) and throws naming the first parameter holding a NaN or infinity,
     * leaving the gradients untouched.
     */
    public static Tensor clipGradNorm(List<Tensor> params, double maxNorm, double normType, boolean errorIfNonfinite) {
        List<Tensor> grads = GradNorm.gradients(params);
        Device device = grads.isEmpty() ? (params.isEmpty() ? Device.auto() : params.getFirst().device()) : grads.getFirst().device();
        try (Tensor stats = GradNorm.compute(device, grads, maxNorm, normType, null)) {
            if (errorIfNonfinite && stats.toDoubleArray()[GradNorm.NON_FINITE] != 0) {
                int bad = firstNonFinite(params);
                throw new NonFiniteGradientException(bad, "parameter " + bad, normType);
            }
            scale(device, grads, stats);
            return Scope.keep(stats.narrow(0, GradNorm.NORM, 1).reshape().copy());
        }
    }

    /**
     * As {@link #clipGradNorm(List, double, double, boolean)} over named parameters (a module's
     * {@code namedParameters()}), so that {@code errorIfNonfinite} names the offending parameter ("layers.7.weight").
     */
    public static Tensor clipGradNorm(Map<String, Tensor> namedParams, double maxNorm, double normType, boolean errorIfNonfinite) {
        List<String> names = List.copyOf(namedParams.keySet());
        try {
            return clipGradNorm(List.copyOf(namedParams.values()), maxNorm, normType, errorIfNonfinite);
        } catch (NonFiniteGradientException e) {
            throw new NonFiniteGradientException(e.parameterIndex(), names.get(e.parameterIndex()), normType);
        }
    }

    /** Multiplies every tensor in place by the coefficient held at index 1 of {@code stats}, in one launch when fused. */
    public static void scale(Device device, List<Tensor> grads, Tensor stats) {
        if (grads.isEmpty()) return;
        if (device.backend().multiTensorOps().orElse(null) instanceof MultiTensorOps fused) {
            List<Strided> views = new ArrayList<>(grads.size());
            for (Tensor g : grads) views.add(GradNorm.contiguousView(g));
            fused.multiTensorScale(views, stats.view().withLayout(new long[0], new long[0]).withOffset(GradNorm.COEFFICIENT));
            return;
        }
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor coef = stats.narrow(0, GradNorm.COEFFICIENT, 1);
            for (Tensor g : grads) g.mulInPlace(coef);
        }
    }

    /** Clamps every gradient to [-value, value] in place (clip_grad_value_). */
    public static void clipGradValue(List<Tensor> params, double value) {
        if (!(value >= 0)) throw new IllegalArgumentException("clip value must be a number >= 0, got " + value);
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            for (Tensor g : GradNorm.gradients(params)) g.copyFrom(g.clamp(-value, value));
        }
    }

    /**
     * Clips each parameter's gradient to {@code maxNorm} on its own (DL4J's ClipL2PerParamType); returns each
     * norm (0-d device tensors) in parameter order, null for parameters without a gradient.
     */
    public static List<Tensor> clipGradNormPerParameter(List<Tensor> params, double maxNorm, double normType) {
        List<Tensor> norms = new ArrayList<>();
        for (Tensor p : params) norms.add(p.grad() == null ? null : clipGradNorm(List.of(p), maxNorm, normType));
        return norms;
    }

    /**
     * Clips the gradients of each layer together (DL4J's ClipL2PerLayer): parameters are grouped by their name
     * up to the last dot ("blocks.3.fc1.weight" and "blocks.3.fc1.bias" form layer "blocks.3.fc1"). Returns
     * each layer's norm before clipping, by layer name.
     */
    public static Map<String, Tensor> clipGradNormPerLayer(Map<String, Tensor> namedParams, double maxNorm, double normType) {
        Map<String, List<Tensor>> layers = new LinkedHashMap<>();
        for (var e : namedParams.entrySet()) {
            String name = e.getKey();
            int dot = name.lastIndexOf('.');
            layers.computeIfAbsent(dot < 0 ? "" : name.substring(0, dot), k -> new ArrayList<>()).add(e.getValue());
        }
        Map<String, Tensor> norms = new LinkedHashMap<>();
        for (var e : layers.entrySet()) norms.put(e.getKey(), clipGradNorm(e.getValue(), maxNorm, normType));
        return norms;
    }

    /**
     * Unit-wise adaptive gradient clipping (AGC, Brock et al. 2021, "High-Performance Large-Scale Image Recognition
     * Without Normalization"): each output unit's gradient (the rows along the first dim; the whole tensor for
     * vectors and scalars) is scaled by {@code min(1, clipping * max(||w||, eps) / max(||g||, 1e-6))}, so a
     * gradient may not exceed a fixed fraction of the weight it updates. Runs on the device, no host sync.
     */
    public static void adaptiveClipGrad(List<Tensor> params, double clipping, double eps) {
        if (!(clipping > 0)) throw new IllegalArgumentException("adaptive clipping factor must be > 0, got " + clipping);
        if (!(eps >= 0)) throw new IllegalArgumentException("adaptive clipping eps must be >= 0, got " + eps);
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null || g.numel() == 0) continue;
                int[] axes = new int[Math.max(p.rank() - 1, 0)];
                for (int i = 0; i < axes.length; i++) axes[i] = i + 1;
                Tensor wn = p.rank() <= 1 ? p.norm(2) : p.norm(2, axes, true);
                Tensor gn = p.rank() <= 1 ? g.norm(2) : g.norm(2, axes, true);
                Tensor maxNorm = wn.maximum(eps).mul(clipping);
                Tensor factor = maxNorm.div(gn.maximum(1e-6)).minimum(1.0);
                g.mulInPlace(factor);
            }
        }
    }

    private static int firstNonFinite(List<Tensor> params) {
        for (int i = 0; i < params.size(); i++) {
            Tensor g = params.get(i).grad();
            if (g == null) continue;
            try (Tensor f = g.to(DType.F64).isFinite().min()) {
                if (f.item() == 0) return i;
            }
        }
        return -1;
    }
}
