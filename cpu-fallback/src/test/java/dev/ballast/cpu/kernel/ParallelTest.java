package dev.ballast.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Parallel#forEach}: every task once, the caller working too (it finishes the
 * call alone while every pool thread is busy), nested calls, failures passed on. */
class ParallelTest {
    private static final ForkJoinPool POOL = new ForkJoinPool(2);
    private static final Parallel PAR = new Parallel(POOL, 2);

    @AfterAll static void shutdown() throws InterruptedException {
        POOL.shutdown();
        POOL.awaitTermination(10, TimeUnit.SECONDS);
    }

    @Test void everyTaskRunsExactlyOnce() {
        for (int tasks : new int[] {1, 2, 3, 17, 1000}) {
            AtomicIntegerArray runs = new AtomicIntegerArray(tasks);
            PAR.forEach(tasks, t -> runs.incrementAndGet((int) t));
            for (int t = 0; t < tasks; t++) assertEquals(1, runs.get(t), "task " + t + " of " + tasks);
        }
    }

    @Test @Timeout(30) void theCallerFinishesAloneWhileEveryPoolThreadIsBusy() throws Exception {
        CountDownLatch release = new CountDownLatch(1), busy = new CountDownLatch(2);
        for (int i = 0; i < 2; i++) POOL.execute(() -> {
            busy.countDown();
            try { release.await(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        });
        busy.await();
        try {
            AtomicIntegerArray runs = new AtomicIntegerArray(100);
            Thread caller = Thread.currentThread();
            PAR.forEach(100, t -> { if (Thread.currentThread() == caller) runs.incrementAndGet((int) t); });
            for (int t = 0; t < 100; t++) assertEquals(1, runs.get(t), "task " + t + " on the calling thread");
        } finally {
            release.countDown();
        }
    }

    @Test @Timeout(30) void nestedCallsFromTasksFinish() {
        AtomicIntegerArray runs = new AtomicIntegerArray(64 * 64);
        PAR.forEach(64, o -> PAR.forEach(64, i -> runs.incrementAndGet((int) (o * 64 + i))));
        for (int i = 0; i < runs.length(); i++) assertEquals(1, runs.get(i), "inner task " + i);
    }

    @Test void aFailingTaskFailsTheCallWithItsException() {
        IllegalStateException boom = new IllegalStateException("task 5 failed");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> PAR.forEach(50, t -> {
            if (t == 5) throw boom;
        }));
        assertSame(boom, e);
    }
}
