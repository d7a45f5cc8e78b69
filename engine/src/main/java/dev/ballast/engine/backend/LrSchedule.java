package dev.ballast.engine.backend;

/**
 * The one learning-rate schedule type: evaluated by the fused optimizer kernels on the device from the device-side
 * count of taken steps (so a skipped step does not move it and no host sync is needed), and on the host by
 * {@link #at(long)} and {@link #lr(long, double)} with the same arithmetic. {@code at(t)} for the t-th taken step
 * (t = 1 for the first): linear warm-up over {@code warmupSteps} (lr * t / warmupSteps), then the base shape
 * evaluated at {@code s = t - warmupSteps - 1}: CONSTANT (lr), STEP (lr * gamma^floor(s / stepSize), torch StepLR)
 * or COSINE (etaMin + (lr - etaMin) * (1 + cos(pi * min(s, tMax) / tMax)) / 2, torch CosineAnnealingLR's closed
 * form, then etaMin). An optimizer given a schedule ({@code Optimizer.setSchedule}) uses each parameter group's base
 * lr as {@code lr}; the factories without an lr leave it at 1 for that use.
 */
public record LrSchedule(Kind kind, double lr, long warmupSteps, long stepSize, double gamma, long tMax, double etaMin) {

    /** The base shapes. */
    public enum Kind { CONSTANT, STEP, COSINE }

    public LrSchedule {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be a finite number >= 0, got " + lr);
        if (warmupSteps < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
        if (kind == Kind.STEP && stepSize <= 0) throw new IllegalArgumentException("step schedule: stepSize must be > 0, got " + stepSize);
        if (kind == Kind.COSINE && tMax <= 0) throw new IllegalArgumentException("cosine schedule: tMax must be > 0, got " + tMax);
        if (kind == Kind.COSINE && (!(etaMin >= 0) || Double.isInfinite(etaMin)))
            throw new IllegalArgumentException("cosine schedule: etaMin must be finite and >= 0, got " + etaMin);
        if (kind == Kind.STEP && (!(gamma >= 0) || Double.isInfinite(gamma)))
            throw new IllegalArgumentException("step schedule: gamma must be finite and >= 0, got " + gamma);
    }

    /** The group's base lr, unchanged (for {@code Optimizer.setSchedule}). */
    public static LrSchedule constant() { return constant(1); }

    /** Base lr * gamma every {@code stepSize} taken steps (for {@code Optimizer.setSchedule}). */
    public static LrSchedule step(long stepSize, double gamma) { return step(1, stepSize, gamma); }

    /** Cosine annealing from the base lr to etaMin over tMax taken steps (for {@code Optimizer.setSchedule}). */
    public static LrSchedule cosine(long tMax, double etaMin) { return cosine(1, tMax, etaMin); }

    /** This schedule with peak learning rate {@code lr}. */
    public LrSchedule withLr(double lr) { return new LrSchedule(kind, lr, warmupSteps, stepSize, gamma, tMax, etaMin); }

    /** The learning rate of the next update after {@code stepsTaken} taken steps, with {@code baseLr} as the peak. */
    public double lr(long stepsTaken, double baseLr) {
        if (stepsTaken < 0) throw new IllegalArgumentException("schedule: steps taken must be >= 0, got " + stepsTaken);
        return withLr(baseLr).at(stepsTaken + 1);
    }

    /** A constant learning rate. */
    public static LrSchedule constant(double lr) { return new LrSchedule(Kind.CONSTANT, lr, 0, 1, 1, 1, 0); }

    /** lr * gamma every {@code stepSize} taken steps. */
    public static LrSchedule step(double lr, long stepSize, double gamma) { return new LrSchedule(Kind.STEP, lr, 0, stepSize, gamma, 1, 0); }

    /** Cosine annealing from lr to etaMin over tMax taken steps. */
    public static LrSchedule cosine(double lr, long tMax, double etaMin) { return new LrSchedule(Kind.COSINE, lr, 0, 1, 1, tMax, etaMin); }

    /** This schedule behind a linear warm-up of {@code steps} taken steps. */
    public LrSchedule withWarmup(long steps) { return new LrSchedule(kind, lr, steps, stepSize, gamma, tMax, etaMin); }

    /** The learning rate for the t-th taken step (t >= 1). */
    public double at(long t) {
        if (t <= warmupSteps) return lr * t / warmupSteps;
        long s = t - warmupSteps - 1; // steps taken after warm-up, before this one
        return switch (kind) {
            case CONSTANT -> lr;
            case STEP -> lr * Math.pow(gamma, Math.floorDiv(s, stepSize));
            case COSINE -> etaMin + (lr - etaMin) * (1 + Math.cos(Math.PI * Math.min(s, tMax) / tMax)) / 2;
        };
    }
}
