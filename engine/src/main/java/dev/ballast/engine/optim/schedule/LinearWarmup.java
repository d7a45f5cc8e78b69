package dev.ballast.engine.optim.schedule;

import java.util.Objects;

/**
 * Linear warm-up wrapping another schedule: the update after {@code step} taken steps uses
 * {@code after.lr(0) * (step + 1) / warmupSteps} while {@code step < warmupSteps} (so the first update uses
 * 1/warmupSteps of the rate and update number {@code warmupSteps} the full rate), then
 * {@code after.lr(step - warmupSteps)}: the wrapped schedule starts when warm-up ends. This is the same
 * convention as the device-side {@code backend.LrSchedule} used by fused optimizer kernels.
 */
public record LinearWarmup(long warmupSteps, LrSchedule after) implements LrSchedule {
    public LinearWarmup {
        if (warmupSteps <= 0) throw new IllegalArgumentException("warm-up: warmupSteps must be > 0, got " + warmupSteps);
        Objects.requireNonNull(after, "warm-up: the schedule after warm-up is null (use LrSchedule.constant())");
    }

    @Override
    public double lr(long step, double baseLr) {
        LrSchedule.checkStep(step);
        if (step >= warmupSteps) return after.lr(step - warmupSteps, baseLr);
        return after.lr(0, baseLr) * (step + 1) / warmupSteps;
    }
}
