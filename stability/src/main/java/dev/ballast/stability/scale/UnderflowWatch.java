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
        List<Underflow> out = new ArrayList<>();
        try (GradStats.Pending p = GradStats.compute(named)) {
            for (ParamStats s : p.read()) out.add(of(s, scale));
        }
        return out;
    }

    /**
     * One parameter's underflow from a monitor reading ({@code GradientMonitor}, {@code GradStats}): the values that
     * flush to zero in fp16 at the loss scale {@code lossScale}. The reading's histogram holds the gradients divided by
     * the scale they were read at (or, for a scale that is not a power of two, the scaled values, marked with
     * {@link Log2Histogram#scale}); either way a value flushes when its true magnitude times {@code lossScale} is at
     * most 2^-25, so the same question is asked of both.
     */
    public static Underflow of(ParamStats s, double lossScale) {
        if (!(lossScale > 0) || Double.isInfinite(lossScale))
            throw new IllegalArgumentException("scale must be finite and > 0, got " + lossScale);
        Log2Histogram h = s.histogram();
        double factor = lossScale / h.scale(); // from the histogram's values to their fp16 form
        int exponent = (int) Math.floor(FP16_FLUSH_EXPONENT - Math.log(factor) / Math.log(2) + 1e-9);
        exponent = Math.max(-126, Math.min(128, exponent));
        return new Underflow(s.name(), s.numel(), h.countBelow(exponent), s.zeros());
    }

    /** {@link #measure} with the scaler's current scale, for unscaled gradients. */
    public static List<Underflow> measureUnscaled(Map<String, Tensor> named, GradScaler scaler) {
        return measure(named, scaler.scale().item());
    }
}
