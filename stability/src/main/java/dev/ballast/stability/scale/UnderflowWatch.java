package dev.ballast.stability.scale;

import dev.ballast.engine.Tensor;
import dev.ballast.stability.monitor.GradStats;
import dev.ballast.stability.monitor.Log2Histogram;
import dev.ballast.stability.monitor.ParamStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The fp16 underflow watch: per parameter, the fraction of gradient values that would flush to zero when held in
 * fp16 at the current loss scale, read from the log2-magnitude histogram of the gradient statistics pass
 * ({@link GradStats}, one fused read of all gradients). A value flushes when its magnitude at that scale is at most
 * half of fp16's smallest subnormal, 2^-25; the histogram counts whole binades, so the watch counts values below
 * 2^(-25 - log2 scale), rounded down to a whole exponent (exact for the power-of-two scales loss scalers use).
 * On request only: reading the result is a device sync.
 */
public final class UnderflowWatch {
    private UnderflowWatch() {}

    /** fp16's flush threshold: values of magnitude at most 2^-25 round to zero. */
    public static final int FP16_FLUSH_EXPONENT = -25;

    /**
     * One parameter: {@code flushing} non-zero finite values below the threshold, {@code zeros} already exactly
     * zero (an fp16 product may have flushed them), out of {@code numel}.
     */
    public record Underflow(String name, long numel, long flushing, long zeros) {
        /** The fraction of all values that flush to zero in fp16 at the scale measured. */
        public double fraction() { return numel == 0 ? 0 : (double) flushing / numel; }

        /** Flushing plus already-zero values, as a fraction of all values. */
        public double zeroOrFlushingFraction() { return numel == 0 ? 0 : (double) (flushing + zeros) / numel; }
    }

    /**
     * Measures the gradients of {@code named} parameters as they stand, taking {@code scale} as the factor between
     * them and their fp16 form: the loss scale when the gradients are unscaled, 1 when they are still scaled (as the
     * {@code GradientChain} leaves them: it unscales inside the optimizer's pass).
     */
    public static List<Underflow> measure(Map<String, Tensor> named, double scale) {
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be finite and > 0, got " + scale);
        int exponent = (int) Math.floor(FP16_FLUSH_EXPONENT - Math.log(scale) / Math.log(2) + 1e-9);
        exponent = Math.max(-126, Math.min(128, exponent));
        List<Underflow> out = new ArrayList<>();
        try (GradStats.Pending p = GradStats.compute(named)) {
            for (ParamStats s : p.read()) {
                Log2Histogram h = s.histogram();
                out.add(new Underflow(s.name(), s.numel(), h.countBelow(exponent), s.zeros()));
            }
        }
        return out;
    }

    /** {@link #measure} with the scaler's current scale, for unscaled gradients. */
    public static List<Underflow> measureUnscaled(Map<String, Tensor> named, GradScaler scaler) {
        return measure(named, scaler.scale().item());
    }
}
