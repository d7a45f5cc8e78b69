package dev.ballast.engine.optim.schedule;

/**
 * Cosine annealing, torch CosineAnnealingLR's closed form {@code etaMin + (baseLr - etaMin) * (1 + cos(pi * t / tMax)) / 2}
 * for {@code t <= tMax}; after {@code tMax} it stays at {@code etaMin} (torch's would rise again, which is rarely wanted).
 */
public record Cosine(long tMax, double etaMin) implements LrSchedule {
    public Cosine {
        if (tMax <= 0) throw new IllegalArgumentException("cosine schedule: tMax must be > 0, got " + tMax);
        if (!(etaMin >= 0) || Double.isInfinite(etaMin)) throw new IllegalArgumentException("cosine schedule: etaMin must be finite and >= 0, got " + etaMin);
    }

    @Override
    public double lr(long step, double baseLr) {
        LrSchedule.checkStep(step);
        if (step >= tMax) return etaMin;
        return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * step / tMax)) / 2;
    }
}
