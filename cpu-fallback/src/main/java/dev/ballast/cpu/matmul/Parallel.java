package dev.ballast.cpu.matmul;

import dev.ballast.cpu.kernel.Joins;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * Runs numbered work items on the calling thread plus helpers from a {@link ForkJoinPool}, each
 * item exactly once, and returns when all are done.
 *
 * <p>Items are claimed from a shared counter, so the work balances itself and the caller never
 * waits for a helper that has not started: a helper that starts late finds nothing left and returns.
 * Items may come in phases (all items of one phase finish before any item of the next starts), so
 * a call that packs and then computes wakes its helpers once. A thread only ever waits for items
 * that running threads have claimed, so nothing can deadlock however busy the pool is.
 * Which thread runs an item varies from run to run; callers make each item's result independent
 * of that (the matrix product does: every output tile belongs to exactly one item).
 */
final class Parallel {

    /** The body of a phased job: runs item {@code index} of {@code phase}. */
    interface PhasedBody { void run(int phase, int index); }

    private Parallel() {}

    /** Number of threads {@link #forEach} uses with {@code pool}, the caller included. */
    static int threads(ForkJoinPool pool) {
        if (pool == null) return 1;
        // The common pool is sized on the assumption that the submitting thread works too.
        return pool == ForkJoinPool.commonPool() ? pool.getParallelism() + 1 : Math.max(1, pool.getParallelism());
    }

    /** Runs {@code body(i)} for every {@code i} in {@code [0, count)}. */
    static void forEach(ForkJoinPool pool, int count, IntConsumer body) {
        forEach(pool, new int[]{count}, (phase, i) -> body.accept(i));
    }

    /** Runs {@code body(p, i)} for every phase {@code p} and {@code i} in {@code [0, counts[p])}, phase after phase. */
    static void forEach(ForkJoinPool pool, int[] counts, PhasedBody body) {
        int total = 0, widest = 0;
        for (int c : counts) {
            total = Math.addExact(total, c);
            widest = Math.max(widest, c);
        }
        if (total == 0) return;
        int helpers = Math.min(widest - 1, threads(pool) - 1);
        if (helpers <= 0) {
            for (int p = 0; p < counts.length; p++)
                for (int i = 0; i < counts[p]; i++) body.run(p, i);
            return;
        }
        Job job = new Job(counts, total, body);
        for (int h = 0; h < helpers; h++) {
            try {
                pool.execute(job::drain);
            } catch (RejectedExecutionException e) {
                break; // a shut-down or saturated pool: the caller does the rest
            }
        }
        job.drain();
        job.await();
    }

    private static final class Job {
        private final int[] ends; // ends[p]: items in phases 0..p
        private final int total;
        private final PhasedBody body;
        private final AtomicInteger next = new AtomicInteger();
        private final CountDownLatch remaining;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(int[] counts, int total, PhasedBody body) {
            this.ends = new int[counts.length];
            for (int p = 0, acc = 0; p < counts.length; p++) ends[p] = acc += counts[p];
            this.total = total;
            this.body = body;
            this.remaining = new CountDownLatch(total);
        }

        private long completed() { return total - remaining.getCount(); }

        void drain() {
            int g;
            int phase = 0;
            while ((g = next.getAndIncrement()) < total) {
                while (g >= ends[phase]) phase++;
                try {
                    // Items of earlier phases are all claimed by running threads: wait for them.
                    if (phase > 0) for (int spins = 0; completed() < ends[phase - 1]; spins++) pause(spins);
                    if (failure.get() == null) body.run(phase, phase == 0 ? g : g - ends[phase - 1]);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    remaining.countDown();
                }
            }
        }

        void await() { Joins.await(remaining, 20_000, failure); }

        private static void pause(int spins) {
            if (spins < 20_000) Thread.onSpinWait();
            else if (spins < 21_000) Thread.yield();
            else java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50));
        }
    }
}
