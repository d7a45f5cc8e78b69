package dev.ballast.stability.monitor;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;

/**
 * The gradient statistics pass over named parameters: one launch of the backend's
 * {@link MultiTensorOps#multiTensorStats} writes every parameter's statistics and log2-magnitude histogram into two
 * device tensors; {@link Pending#read()} copies them to the host (one sync) when the caller chooses to.
 *
 * <pre>{@code
 * try (GradStats.Pending p = GradStats.compute(model.namedParameters())) {   // no host sync
 *     for (ParamStats s : p.read()) System.out.println(s.name() + " " + s.gradNorm());
 * }
 * }</pre>
 * Parameters without a gradient (or with no elements) are left out.
 *
 * <p>Gradients that carry a loss scale (fp16 mixed precision reads them before the chain unscales them) are measured
 * with {@link #compute(java.util.Map, Tensor)}: the pass keeps a device copy of the scale of that moment (no host
 * sync) and {@link Pending#read()} divides the norms and the largest |g| by it and moves the histogram's bins back
 * ({@link Log2Histogram#unscaled}), so a reading means the same in fp16 as in fp32.
 */
public final class GradStats {
    private GradStats() {}

    /**
     * Device-side results of one pass and the names they belong to; {@code scale} is the loss scale the gradients
     * carried (a 0-d device copy, or null for none); close to free them.
     */
    public record Pending(List<String> names, long[] numels, Tensor stats, Tensor histogram, Tensor scale) implements AutoCloseable {
        /**
         * Reads the results to the host (a device sync) as one {@link ParamStats} per parameter, in order, divided by
         * the loss scale when there was one.
         */
        public List<ParamStats> read() {
            double[] s = stats.toDoubleArray();
            long[] h = histogram.toLongArray();
            double f = scale == null ? 1 : scale.item();
            if (!(f > 0) || Double.isInfinite(f))
                throw new IllegalStateException("gradStats: the loss scale the gradients were read at is " + f + "; it must be finite and > 0");
            List<ParamStats> out = new ArrayList<>(names.size());
            for (int i = 0; i < names.size(); i++) {
                int r = i * GradStatsLayout.COLUMNS;
                long[] counts = java.util.Arrays.copyOfRange(h, i * GradStatsLayout.BINS, (i + 1) * GradStatsLayout.BINS);
                long zeros = (long) s[r + GradStatsLayout.ZEROS];
                out.add(new ParamStats(names.get(i), numels[i], Math.sqrt(s[r + GradStatsLayout.GRAD_SUMSQ]) / f,
                        Math.sqrt(s[r + GradStatsLayout.WEIGHT_SUMSQ]), s[r + GradStatsLayout.GRAD_MAX_ABS] / f, zeros,
                        (long) s[r + GradStatsLayout.NON_FINITE], Double.NaN, new Log2Histogram(counts, zeros).unscaled(f)));
            }
            return out;
        }

        @Override public void close() {
            stats.close();
            histogram.close();
            if (scale != null) scale.close();
        }
    }

    /** Statistics of the gradients of {@code named} parameters, with their weights' norms. */
    public static Pending compute(java.util.Map<String, Tensor> named) { return compute(named, null); }

    /**
     * Statistics of the gradients of {@code named} parameters that carry the loss scale {@code lossScale} (a 0-d
     * device tensor, copied on the device now: a later update of the scale does not change this reading; null: none).
     */
    public static Pending compute(java.util.Map<String, Tensor> named, Tensor lossScale) {
        List<String> names = new ArrayList<>();
        List<Tensor> grads = new ArrayList<>(), weights = new ArrayList<>();
        for (var e : named.entrySet()) {
            Tensor g = e.getValue().grad();
            if (g == null || g.numel() == 0) continue;
            names.add(e.getKey());
            grads.add(g);
            weights.add(e.getValue());
        }
        return compute(names, grads, weights, lossScale);
    }

    /**
     * Statistics of {@code grads} (F32/F16/BF16, contiguous) named {@code names}; {@code weights} (same sizes) may be
     * null, then weight norms are 0. All tensors must be on one device whose backend has {@link MultiTensorOps}.
     */
    public static Pending compute(List<String> names, List<Tensor> grads, List<Tensor> weights) {
        return compute(names, grads, weights, null);
    }

    /** {@link #compute(List, List, List)} of gradients that carry the loss scale {@code lossScale} (0-d, device; null: none). */
    public static Pending compute(List<String> names, List<Tensor> grads, List<Tensor> weights, Tensor lossScale) {
        if (lossScale != null && lossScale.numel() != 1)
            throw new IllegalArgumentException("gradStats: the loss scale must be one element, got shape " + java.util.Arrays.toString(lossScale.shape()));
        if (names.size() != grads.size())
            throw new IllegalArgumentException("gradStats: " + names.size() + " names for " + grads.size() + " gradients");
        Device device = grads.isEmpty() ? Device.auto() : grads.getFirst().device();
        if (!(device.backend().multiTensorOps().orElse(null) instanceof MultiTensorOps ops))
            throw new UnsupportedOperationException("gradStats: the " + device.name()
                    + " backend has no fused multi-tensor ops (MultiTensorOps), which the statistics pass needs");
        long[] numels = new long[grads.size()];
        List<Strided> g = new ArrayList<>(), w = weights == null ? null : new ArrayList<>();
        for (int i = 0; i < grads.size(); i++) {
            numels[i] = grads.get(i).numel();
            g.add(contiguous(grads.get(i), names.get(i)));
            if (w != null) w.add(contiguous(weights.get(i), names.get(i)));
        }
        Tensor stats = Tensor.empty(device, DType.F64, (long) grads.size() * GradStatsLayout.COLUMNS);
        Tensor hist = Tensor.empty(device, DType.I64, (long) grads.size() * GradStatsLayout.BINS);
        try {
            ops.multiTensorStats(g, w, stats.view(), hist.view());
        } catch (RuntimeException e) {
            stats.close();
            hist.close();
            throw e;
        }
        Tensor scale = null;
        if (lossScale != null) {
            scale = Tensor.empty(lossScale.device(), DType.F64, lossScale.shape());
            try (dev.ballast.engine.autograd.GradMode.Guard ng = dev.ballast.engine.autograd.GradMode.noGrad()) {
                scale.copyFrom(lossScale); // on the device, no sync: the scale of this moment, whatever updates it later
            }
        }
        return new Pending(List.copyOf(names), numels, stats, hist, scale);
    }

    private static Strided contiguous(Tensor t, String name) {
        if (!t.isContiguous())
            throw new IllegalArgumentException("gradStats: '" + name + "' is not contiguous; the statistics pass reads contiguous tensors");
        return t.view();
    }
}
