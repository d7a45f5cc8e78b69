package dev.ballast.engine.backend;

/**
 * A learning-rate schedule that a kernel can evaluate from the device-side count of taken steps, so a
 * skipped step does not move the schedule and no host sync is needed. {@code lr(t)} for the t-th taken step
 * (t = 1 for the first): linear warm-up over {@code warmupSteps} (lr * t / warmupSteps), then the base shape
 * evaluated at {@code t - warmupSteps}: CONSTANT (base lr), STEP (lr * gamma^floor(s / stepSize)) or COSINE
 * (etaMin + (lr - etaMin) * (1 + cos(pi * min(s, tMax) / tMax)) / 2).
 */
public record LrSchedule(Kind kind, double lr, long warmupSteps, long stepSize, double gamma, long tMax, double etaMin) {

    /** The base shapes. */
    public enum Kind { CONSTANT, STEP, COSINE }

    public LrSchedule {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be a finite number >= 0, got " + lr);
        if (warmupSteps < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
        if (kind == Kind.STEP && stepSize <= 0) throw new IllegalArgumentException("step schedule: stepSize must be > 0, got " + stepSize);
        if (kind == Kind.COSINE && tMax <= 0) throw new IllegalArgumentException("cosine schedule: tMax must be > 0, got " + tMax);
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
