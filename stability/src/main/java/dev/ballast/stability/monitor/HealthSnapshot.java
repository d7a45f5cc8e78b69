package dev.ballast.stability.monitor;

import java.util.List;

/** What the monitor read at one step: every parameter's statistics, in parameter order. */
public record HealthSnapshot(long step, List<ParamStats> params) {
    public HealthSnapshot {
        params = List.copyOf(params);
    }

    /** The global L2 norm of all finite gradient values. */
    public double globalGradNorm() {
        double sq = 0;
        for (ParamStats p : params) sq += p.gradNorm() * p.gradNorm();
        return Math.sqrt(sq);
    }

    /** Non-finite gradient values over all parameters. */
    public long nonFinite() {
        long n = 0;
        for (ParamStats p : params) n += p.nonFinite();
        return n;
    }

    /** All parameters' histograms added together. */
    public Log2Histogram histogram() {
        Log2Histogram h = Log2Histogram.empty();
        for (ParamStats p : params) h = h.plus(p.histogram());
        return h;
    }

    /** The statistics of the parameter called {@code name}, or null. */
    public ParamStats param(String name) {
        for (ParamStats p : params) if (p.name().equals(name)) return p;
        return null;
    }
}
