package dev.ballast.cpu.kernel;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.LongConsumer;

/**
 * Runs numbered tasks on a fork/join pool. Kernels cut their work into tasks of a fixed size that
 * does not depend on the thread count, so results are the same for any number of threads.
 */
public final class Parallel {
    /** Elements per task for streaming kernels: large enough to amortize scheduling, small enough to balance. */
    public static final int GRAIN = 1 << 16;

    private final ForkJoinPool pool;
    private final int threads;

    public Parallel(ForkJoinPool pool, int threads) {
        this.pool = pool;
        this.threads = threads;
    }

    public int threads() { return threads; }

    /** Calls {@code body} once for each task number in {@code [0, tasks)}, in parallel when worthwhile. */
    public void forEach(long tasks, LongConsumer body) {
        if (tasks <= 0) return;
        if (threads <= 1 || tasks == 1) {
            for (long t = 0; t < tasks; t++) body.accept(t);
            return;
        }
        if (java.util.concurrent.ForkJoinTask.getPool() == pool) new Range(0, tasks, body).invoke();   // nested call from a worker
        else pool.invoke(new Range(0, tasks, body));
    }

    /** Calls {@code body} for each unit in {@code [0, units)}, grouping {@code unitsPerTask} consecutive units per task. */
    public void forEachUnit(long units, long unitsPerTask, LongConsumer body) {
        forEach(tasks(units, unitsPerTask), t -> {
            long end = Math.min(units, (t + 1) * unitsPerTask);
            for (long u = t * unitsPerTask; u < end; u++) body.accept(u);
        });
    }

    /** Number of tasks that cut {@code n} items into pieces of {@code grain}. */
    public static long tasks(long n, long grain) { return (n + grain - 1) / grain; }

    private static final class Range extends RecursiveAction {
        private final long lo, hi;
        private final LongConsumer body;

        Range(long lo, long hi, LongConsumer body) { this.lo = lo; this.hi = hi; this.body = body; }

        @Override protected void compute() {
            if (hi - lo == 1) { body.accept(lo); return; }
            long mid = (lo + hi) >>> 1;
            invokeAll(new Range(lo, mid, body), new Range(mid, hi, body));
        }
    }
}
