package dev.ballast.bench;

import dev.ballast.engine.backend.Backend;
import java.util.ArrayList;
import java.util.List;

/**
 * Host-side timing of device work for {@link MatmulBench} and {@link OpsBench}: the backend is synchronized
 * before and after each timed call, so a timing covers exactly that call's queued work (on CUDA plus one
 * synchronize round-trip, some microseconds; on the CPU the work is synchronous anyway).
 */
final class DeviceTimer {
    private DeviceTimer() {}

    /** Median milliseconds of {@code work} under {@code timing}'s warm-up and repetition rule. */
    static double medianMs(Backend backend, Runnable work, ClipBench.Timing timing) {
        long warmEnd = System.nanoTime() + (long) (timing.warmupSeconds() * 1e9);
        for (int n = 0; n < timing.minWarmup() || System.nanoTime() < warmEnd; n++) {
            work.run();
            backend.synchronize();
        }
        List<Double> ms = new ArrayList<>();
        double spent = 0;
        while (ms.size() < timing.minReps() || (spent < timing.targetSeconds() && ms.size() < timing.maxReps())) {
            backend.synchronize();
            long t0 = System.nanoTime();
            work.run();
            backend.synchronize();
            double t = (System.nanoTime() - t0) / 1e6;
            ms.add(t);
            spent += t / 1e3;
        }
        return ClipBench.median(ms);
    }

    /**
     * Median microseconds per call of {@code work} run {@code perBatch} times back to back, over {@code batches}
     * batches, after {@code warmup} untimed calls. The backend is synchronized only at the end of each batch, so
     * on an asynchronous backend this is the host cost of issuing the call (plus the queue drain amortized
     * over the batch).
     */
    static double medianUsPerCall(Backend backend, Runnable work, int warmup, int batches, int perBatch) {
        for (int i = 0; i < warmup; i++) work.run();
        backend.synchronize();
        List<Double> us = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < perBatch; i++) work.run();
            backend.synchronize();
            us.add((System.nanoTime() - t0) / 1e3 / perBatch);
        }
        return ClipBench.median(us);
    }
}
