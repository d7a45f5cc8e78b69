package dev.ballast.stability.guard;

/**
 * Z-score of a positive series against an exponential moving average of its mean and variance (as ZClip keeps them).
 * Values judged spikes are not folded in, so one spike does not raise the bar for the next. The first
 * {@code warmup} values only build the statistics.
 */
public final class SpikeDetector {
    private final double beta;
    private final double threshold;
    private final long warmup;
    private double mean, var;
    private long seen;

    public SpikeDetector(double beta, double threshold, long warmup) {
        if (!(beta > 0 && beta < 1)) throw new IllegalArgumentException("spike detector: beta must be in (0, 1), got " + beta);
        if (!(threshold > 0)) throw new IllegalArgumentException("spike detector: threshold must be > 0, got " + threshold);
        this.beta = beta;
        this.threshold = threshold;
        this.warmup = Math.max(1, warmup);
    }

    /** The z-score of {@code x} against the statistics so far (0 during warm-up). */
    public double zScore(double x) {
        if (seen < warmup) return 0;
        double sd = Math.sqrt(var);
        return (x - mean) / Math.max(sd, 1e-3 * Math.abs(mean) + 1e-12);
    }

    /** Whether {@code x} is a spike (above threshold after warm-up); non-spikes update the statistics. */
    public boolean observe(double x) {
        boolean spike = seen >= warmup && zScore(x) > threshold;
        if (!spike) update(x);
        return spike;
    }

    private void update(double x) {
        if (seen == 0) {
            mean = x;
            var = 0;
        } else {
            double d = x - mean;
            mean += (1 - beta) * d;
            var = beta * (var + (1 - beta) * d * d);
        }
        seen++;
    }

    public double mean() { return mean; }

    public double std() { return Math.sqrt(var); }

    public double threshold() { return threshold; }

    /** Statistics as numbers for checkpoints: mean, variance, count. */
    public double[] state() { return new double[] {mean, var, seen}; }

    public void load(double[] s) {
        mean = s[0];
        var = s[1];
        seen = (long) s[2];
    }
}
