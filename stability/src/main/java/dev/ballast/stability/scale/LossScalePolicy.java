package dev.ballast.stability.scale;

/**
 * The rules by which a loss scale moves, as a value; {@link LossScaleState} applies them on the device.
 *
 * <p>An overflow step (a gradient held NaN or infinity) is always skipped. With a dynamic policy the scale then
 * backs off to {@code max(scale * backoffFactor, minScale)}, unless hysteresis still tolerates overflows: with
 * {@code hysteresis = n} the first {@code n - 1} overflows only use up the tolerance (the scale stays), and the
 * tolerance is refilled after every clean step ({@code consecutiveHysteresis}) or whenever the scale grows.
 * The scale grows by {@code growthFactor}, and only when the grown value is finite (as torch.amp.GradScaler), after
 * a run of clean steps counted by one of two rules:
 * <ul>
 * <li>{@link GrowthRule#PYTORCH} (the default): after {@code growthInterval} clean steps in a row, counting from the
 *     last overflow or growth;</li>
 * <li>{@link GrowthRule#DEEPSPEED}: DeepSpeed's {@code DynamicLossScaler} with {@code scale_window = growthInterval},
 *     which grows when the clean steps since the last overflow, minus one, are a positive multiple of the window:
 *     one clean step later than PyTorch after an overflow.</li>
 * </ul>
 * A static policy never changes the scale (overflow steps are still skipped).
 *
 * @param initScale             the first scale, finite and > 0
 * @param growthFactor          > 1
 * @param backoffFactor         in (0, 1)
 * @param growthInterval        clean steps before growth (PyTorch's growth_interval, DeepSpeed's scale_window), >= 1
 * @param minScale              the scale never backs off below this, >= 0 (0: no floor, PyTorch)
 * @param hysteresis            overflows tolerated before backing off, counting the one that backs off, >= 1
 * @param consecutiveHysteresis refill the tolerance after every clean step (else only when the scale grows)
 * @param rule                  how clean steps are counted for growth
 * @param dynamic               false for a static scale
 */
public record LossScalePolicy(double initScale, double growthFactor, double backoffFactor, long growthInterval,
                              double minScale, int hysteresis, boolean consecutiveHysteresis, GrowthRule rule,
                              boolean dynamic) {

    /** How the clean steps that lead to growth are counted (see the class comment). */
    public enum GrowthRule { PYTORCH, DEEPSPEED }

    public LossScalePolicy {
        if (!(initScale > 0) || Double.isInfinite(initScale))
            throw new IllegalArgumentException("initScale must be finite and > 0, got " + initScale);
        if (!(growthFactor > 1) || Double.isInfinite(growthFactor))
            throw new IllegalArgumentException("growthFactor must be a finite number > 1, got " + growthFactor);
        if (!(backoffFactor > 0 && backoffFactor < 1))
            throw new IllegalArgumentException("backoffFactor must be in (0, 1), got " + backoffFactor);
        if (growthInterval < 1) throw new IllegalArgumentException("growthInterval must be >= 1, got " + growthInterval);
        if (!(minScale >= 0) || Double.isInfinite(minScale))
            throw new IllegalArgumentException("minScale must be a finite number >= 0, got " + minScale);
        if (hysteresis < 1) throw new IllegalArgumentException("hysteresis must be >= 1, got " + hysteresis);
        if (rule == null) throw new IllegalArgumentException("rule must be PYTORCH or DEEPSPEED, got null");
    }

    /** torch.amp.GradScaler's defaults: 2^16, growth 2, backoff 0.5, interval 2000. */
    public static LossScalePolicy pytorch() { return pytorch(65536.0, 2.0, 0.5, 2000); }

    /** torch.amp.GradScaler(init_scale, growth_factor, backoff_factor, growth_interval). */
    public static LossScalePolicy pytorch(double initScale, double growthFactor, double backoffFactor, long growthInterval) {
        return new LossScalePolicy(initScale, growthFactor, backoffFactor, growthInterval, 0, 1, false, GrowthRule.PYTORCH, true);
    }

    /**
     * DeepSpeed's DynamicLossScaler(init_scale, scale_factor, scale_window, min_scale, delayed_shift = hysteresis,
     * consecutive_hysteresis): backs off by 1 / scaleFactor.
     */
    public static LossScalePolicy deepSpeed(double initScale, double scaleFactor, long scaleWindow, double minScale,
                                            int hysteresis, boolean consecutiveHysteresis) {
        return new LossScalePolicy(initScale, scaleFactor, 1 / scaleFactor, scaleWindow, minScale, hysteresis,
                consecutiveHysteresis, GrowthRule.DEEPSPEED, true);
    }

    /** A fixed scale (DeepSpeed's static loss scale; 1 for plain fp32 or bf16 training with skipped overflow steps). */
    public static LossScalePolicy staticScale(double scale) {
        return new LossScalePolicy(scale, 2, 0.5, 1, 0, 1, false, GrowthRule.PYTORCH, false);
    }

    /** This policy tolerating {@code n} overflows before backing off, refilled as {@code consecutive} says. */
    public LossScalePolicy withHysteresis(int n, boolean consecutive) {
        return new LossScalePolicy(initScale, growthFactor, backoffFactor, growthInterval, minScale, n, consecutive, rule, dynamic);
    }

    /** This policy with a floor under backing off. */
    public LossScalePolicy withMinScale(double min) {
        return new LossScalePolicy(initScale, growthFactor, backoffFactor, growthInterval, min, hysteresis,
                consecutiveHysteresis, rule, dynamic);
    }
}
