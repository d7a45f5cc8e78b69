package dev.ballast.cpu.kernel;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;

/**
 * Runs numbered tasks on the calling thread plus helpers from a fork/join pool. Kernels cut their work into tasks of a
 * fixed size that does not depend on the thread count, so results are the same for any number of threads.
 *
 * <p>The caller works too: it and up to {@code threads - 1} helpers woken from the pool claim tasks from a shared
 * counter, and a helper that starts late finds nothing left and returns. So an op never waits for a thread the
 * operating system has not scheduled yet, and a small op costs one wake-up instead of two hand-offs: handing every
 * task to the pool and parking the caller until the pool was done (as this class did before) put two context
 * switches on the critical path of each op, about 200 per step of the small transformer, whose ops take tens of
 * microseconds each. The caller waits only for tasks that a running helper has claimed, so nothing can deadlock
 * however busy the pool is, nested calls from a helper included.
 */
public final class Parallel {
    /** Elements per task for streaming kernels: large enough to amortize scheduling, small enough to balance. */
    public static final int GRAIN = 1 << 16;
    /** Spins of the waiting caller before it yields, then parks: the last tasks usually end within microseconds. */
    private static final int SPINS = 4_000;

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

    /** One call's tasks: a claim counter, a completion counter and the first failure. */
    private static final class Job {
        private final long tasks;
        private final LongConsumer body;
        private final AtomicLong next = new AtomicLong();
        private final AtomicLong done = new AtomicLong();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread caller = Thread.currentThread();
        private volatile boolean parked;

        Job(long tasks, LongConsumer body) {
            this.tasks = tasks;
            this.body = body;
        }

        /** Claims and runs tasks until none is left; wakes the caller when this thread finished the last one. */
        void drain() {
            long t, mine = 0;
            while ((t = next.getAndIncrement()) < tasks) {
                try {
                    if (failure.get() == null) body.accept(t);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                mine++;
            }
            if (mine > 0 && done.addAndGet(mine) == tasks && parked) LockSupport.unpark(caller);
        }

        /** Waits (the caller, after its own drain) until every claimed task has ended, then rethrows a failure. */
        void await() {
            for (int spins = 0; done.get() < tasks; spins++) {
                if (spins < SPINS) {
                    Thread.onSpinWait();
                } else if (spins < SPINS + 50) {
                    Thread.yield();
                } else {
                    parked = true;
                    if (done.get() < tasks) LockSupport.parkNanos(this, 200_000);
                }
            }
            Throwable t = failure.get();
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error err) throw err;
            if (t != null) throw new RuntimeException(t);
        }
    }
}
