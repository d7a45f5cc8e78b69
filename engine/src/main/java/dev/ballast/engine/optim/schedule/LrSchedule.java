package dev.ballast.engine.optim.schedule;

/**
 * Maps the number of optimizer steps already taken ({@code step}, 0 before the first update) and a parameter
 * group's base learning rate to the learning rate of the next update. Pure: the same arguments give the same
 * value, so a resumed run only needs the step count.
 */
@FunctionalInterface
public interface LrSchedule {
    double lr(long step, double baseLr);

    /** The base learning rate, unchanged. */
    static LrSchedule constant() { return new Constant(); }

    /** {@code baseLr * gamma^(step / stepSize)} (torch StepLR). */
    static LrSchedule step(long stepSize, double gamma) { return new StepDecay(stepSize, gamma); }

    /** Cosine annealing from baseLr to etaMin over tMax steps, then etaMin (torch CosineAnnealingLR's closed form). */
    static LrSchedule cosine(long tMax, double etaMin) { return new Cosine(tMax, etaMin); }

    /** A linear warm-up over {@code warmupSteps} updates ({@code (step + 1) / warmupSteps} of the rate), then {@code after}. */
    static LrSchedule warmup(long warmupSteps, LrSchedule after) { return new LinearWarmup(warmupSteps, after); }

    /** This schedule behind a linear warm-up of {@code warmupSteps} updates. */
    default LrSchedule withWarmup(long warmupSteps) { return new LinearWarmup(warmupSteps, this); }

    static void checkStep(long step) {
        if (step < 0) throw new IllegalArgumentException("schedule step must be >= 0, got " + step);
    }
}
