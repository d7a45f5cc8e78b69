package dev.ballast.cpu.matmul;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * Runs {@code body(i)} for every {@code i} in {@code [0, count)} on the calling thread plus helpers
 * from a {@link ForkJoinPool}, each index exactly once, and returns when all are done.
 *
 * <p>Indices are claimed from a shared counter, so the work balances itself and the caller never
 * waits for a helper that has not started: a helper that starts late finds nothing left and returns.
 * Which thread runs an index varies from run to run; callers must make each index's result
 * independent of that (the matrix product does: every output tile belongs to exactly one index).
 */
final class Parallel {

    private Parallel() {}

    /** Number of threads {@link #forEach} uses with {@code pool}, the caller included. */
    static int threads(ForkJoinPool pool) {
        if (pool == null) return 1;
        // The common pool is sized on the assumption that the submitting thread works too.
        return pool == ForkJoinPool.commonPool() ? pool.getParallelism() + 1 : Math.max(1, pool.getParallelism());
    }

    static void forEach(ForkJoinPool pool, int count, IntConsumer body) {
        if (count <= 0) return;
        int helpers = Math.min(count - 1, threads(pool) - 1);
        if (helpers <= 0) {
            for (int i = 0; i < count; i++) body.accept(i);
            return;
        }
        Job job = new Job(count, body);
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
        private final int count;
        private final IntConsumer body;
        private final AtomicInteger next = new AtomicInteger();
        private final CountDownLatch done;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(int count, IntConsumer body) {
            this.count = count;
            this.body = body;
            this.done = new CountDownLatch(count);
        }

        void drain() {
            int i;
            while ((i = next.getAndIncrement()) < count) {
                try {
                    if (failure.get() == null) body.accept(i);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            }
        }

        void await() {
            boolean interrupted = false;
            while (true) {
                try {
                    done.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // helpers still write the output: wait for them regardless
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            Throwable t = failure.get();
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error err) throw err;
            if (t != null) throw new RuntimeException(t);
        }
    }
}
