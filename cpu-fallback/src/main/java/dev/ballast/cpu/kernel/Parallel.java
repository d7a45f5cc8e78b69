package dev.ballast.cpu.kernel;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;

/**
 * Runs numbered tasks on the calling thread plus helpers from a fork/join pool. Kernels cut their work into tasks of
 * a fixed size that does not depend on the thread count, so results are the same for any number of threads.
 *
 * <p>The caller works too: tasks are claimed from a shared counter by the caller and by up to {@code threads - 1}
 * helpers it wakes, so a short op never waits for a pool thread to wake up before any work starts (handing the
 * whole op to the pool and parking the caller made most of a step's elementwise ops single-threaded on 2 cores: the
 * first worker finished both halves of an op before a second one woke). A helper that starts late finds nothing left
 * and returns; a thread only ever waits for tasks that running threads have claimed, so nested calls cannot deadlock.
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
        Job job = new Job(tasks, body);
        long helpers = Math.min(tasks - 1, threads - 1);
        for (long h = 0; h < helpers; h++) {
            try {
                pool.execute(job::drain);
            } catch (RejectedExecutionException e) {
                break; // a shut-down or saturated pool: the caller does the rest
            }
        }
        job.drain();
        job.await();
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

    /** One call's tasks: a counter the threads claim from, and a count of those not yet done. */
    private static final class Job {
        private final long total;
        private final LongConsumer body;
        private final AtomicLong next = new AtomicLong();
        private final AtomicLong remaining;
        private final CountDownLatch done = new CountDownLatch(1);
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(long total, LongConsumer body) {
            this.total = total;
            this.body = body;
            this.remaining = new AtomicLong(total);
        }

        void drain() {
            long t;
            while ((t = next.getAndIncrement()) < total) {
                try {
                    if (failure.get() == null) body.accept(t);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    if (remaining.decrementAndGet() == 0) done.countDown();
                }
            }
        }

        void await() { Joins.await(done, 5_000, failure); }
    }
}
