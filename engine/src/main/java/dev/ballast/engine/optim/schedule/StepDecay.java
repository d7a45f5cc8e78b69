package dev.ballast.engine.optim.schedule;

/** torch StepLR: {@code baseLr * gamma^floor(step / stepSize)}. */
public record StepDecay(long stepSize, double gamma) implements LrSchedule {
    public StepDecay {
        if (stepSize <= 0) throw new IllegalArgumentException("step schedule: stepSize must be > 0, got " + stepSize);
        if (!(gamma > 0) || Double.isInfinite(gamma)) throw new IllegalArgumentException("step schedule: gamma must be finite and > 0, got " + gamma);
    }

    @Override
    public double lr(long step, double baseLr) {
        LrSchedule.checkStep(step);
        return baseLr * Math.pow(gamma, step / stepSize);
    }
}
