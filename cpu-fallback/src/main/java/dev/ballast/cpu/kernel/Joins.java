package dev.ballast.cpu.kernel;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The end of a fork-join job shared by the CPU backend's two task runners ({@link Parallel} for elementwise and
 * fused kernels, {@code cpu.matmul.Parallel} for the matrix products): the calling thread, having run its own share,
 * waits for the helpers and rethrows the first failure any task recorded.
 */
public final class Joins {
    private Joins() {}

    /**
     * Waits until {@code done} reaches zero: a short spin first (the other threads' last tasks usually end within
     * microseconds of the caller's), then a blocking wait that an interrupt does not cut short (helpers still write the
     * output; the interrupt status is restored afterwards). Then rethrows {@code failure}'s throwable, if any, as is
     * when unchecked.
     */
    public static void await(CountDownLatch done, int spins, AtomicReference<Throwable> failure) {
        for (int s = 0; s < spins && done.getCount() > 0; s++) Thread.onSpinWait();
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error err) throw err;
        if (t != null) throw new RuntimeException(t);
    }
}
