package dev.ballast.engine.data;

import java.util.SplittableRandom;

/** Seeded host-side draws for the synthetic tasks: uniform from SplittableRandom, normal by Box-Muller. */
final class Rng {
    private final SplittableRandom r;
    private double spare = Double.NaN;

    Rng(long seed) { r = new SplittableRandom(seed); }

    double uniform() { return r.nextDouble(); }

    int nextInt(int bound) { return r.nextInt(bound); }

    /** Uniform integer in [lo, hi] inclusive. */
    int between(int lo, int hi) { return lo + r.nextInt(hi - lo + 1); }

    double normal() {
        if (!Double.isNaN(spare)) {
            double s = spare;
            spare = Double.NaN;
            return s;
        }
        double u1 = 1 - r.nextDouble(); // (0, 1]
        double u2 = r.nextDouble();
        double rad = Math.sqrt(-2 * Math.log(u1));
        spare = rad * Math.sin(2 * Math.PI * u2);
        return rad * Math.cos(2 * Math.PI * u2);
    }
}
