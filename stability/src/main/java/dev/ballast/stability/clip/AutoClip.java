package dev.ballast.stability.clip;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AutoClip (Seetharaman et al. 2020): clip the global gradient norm at the {@code percentile}-th percentile of every
 * norm seen so far, this step's included (numpy's linear interpolation, as the paper's code). The history lives on
 * the host, so each step reads the norm once (a sync); it is saved and restored with {@link #stateDict()}.
 * Non-finite norms are not added to the history and leave the gradients alone.
 */
public final class AutoClip {
    private final double percentile;
    private double[] history = new double[64];
    private int size;

    public AutoClip(double percentile) {
        if (!(percentile > 0 && percentile <= 100)) throw new IllegalArgumentException("autoclip: percentile must be in (0, 100], got " + percentile);
        this.percentile = percentile;
    }

    /** Clips the gradients of {@code params} in place; returns the threshold used (NaN for a non-finite norm). */
    public double clip(List<Tensor> params) {
        List<Tensor> grads = GradNorm.gradients(params);
        if (grads.isEmpty()) return Double.NaN;
        Device device = grads.getFirst().device();
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            double norm = GradNorm.compute(device, grads, Double.POSITIVE_INFINITY, 2, null).narrow(0, GradNorm.NORM, 1).item();
            if (!Double.isFinite(norm)) return Double.NaN;
            if (size == history.length) history = Arrays.copyOf(history, 2 * size);
            history[size++] = norm;
            double threshold = percentile(Arrays.copyOf(history, size), percentile);
            if (norm > threshold) {
                Tensor coef = Tensor.scalar(device, DType.F32, threshold / (norm + 1e-6));
                for (Tensor g : grads) g.mulInPlace(coef);
            }
            return threshold;
        }
    }

    /** numpy.percentile with linear interpolation. */
    public static double percentile(double[] v, double p) {
        Arrays.sort(v);
        double pos = p / 100 * (v.length - 1);
        int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }

    /** Norms seen so far. */
    public int steps() { return size; }

    /** State for checkpoints: {@code history} (F64, the norms in order). */
    public Map<String, Tensor> stateDict(Device device) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("history", Tensor.fromArray(device, DType.F64, Arrays.copyOf(history, Math.max(size, 0)), size));
        return m;
    }

    public void loadStateDict(Map<String, Tensor> state) {
        Tensor h = state.get("history");
        if (h == null) throw new IllegalArgumentException("autoclip state: missing entry 'history'");
        double[] v = h.toDoubleArray();
        history = Arrays.copyOf(v, Math.max(64, v.length));
        size = v.length;
    }
}
