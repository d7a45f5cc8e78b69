package dev.ballast.engine.optim.schedule;

/** A constant learning rate: the group's base lr at every step. */
public record Constant() implements LrSchedule {
    @Override
    public double lr(long step, double baseLr) {
        LrSchedule.checkStep(step);
        return baseLr;
    }
}
