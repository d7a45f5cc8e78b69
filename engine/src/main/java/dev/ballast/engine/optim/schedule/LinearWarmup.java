package dev.ballast.engine.optim.schedule;

import java.util.Objects;

/**
 * Linear warm-up wrapping another schedule: for {@code step < warmupSteps} the lr is
 * {@code after.lr(0) * (startFactor + (1 - startFactor) * step / warmupSteps)} (torch LinearLR's factor), and from
 * then on {@code after.lr(step - warmupSteps)}, so the wrapped schedule starts when warm-up ends.
 */
public record LinearWarmup(long warmupSteps, double startFactor, LrSchedule after) implements LrSchedule {
    public LinearWarmup {
        if (warmupSteps <= 0) throw new IllegalArgumentException("warm-up: warmupSteps must be > 0, got " + warmupSteps);
        if (!(startFactor >= 0 && startFactor <= 1)) throw new IllegalArgumentException("warm-up: startFactor must be in [0, 1], got " + startFactor);
        Objects.requireNonNull(after, "warm-up: the schedule after warm-up is null (use LrSchedule.constant())");
    }

    @Override
    public double lr(long step, double baseLr) {
        LrSchedule.checkStep(step);
        if (step >= warmupSteps) return after.lr(step - warmupSteps, baseLr);
        return after.lr(0, baseLr) * (startFactor + (1 - startFactor) * step / (double) warmupSteps);
    }
}
