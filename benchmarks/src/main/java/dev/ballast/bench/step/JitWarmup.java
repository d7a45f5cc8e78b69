package dev.ballast.bench.step;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * Warm-up that lasts until the JIT compiler has finished with the step's code. Ballast's kernels are Vector API
 * loops, which run boxed and many times slower until C2 has compiled them (C1 does not intrinsify vectors), and a
 * full step touches hundreds of methods: on 2 busy cores the last C2 compile of the MLP step lands after about 450
 * steps, with the step time stuck at 3x its final value before it. A fixed-seconds warm-up therefore times the JIT,
 * not the step. The rule here: after the minimum warm-up, keep stepping until {@link #QUIET_WINDOWS} consecutive
 * windows of at least {@link #WINDOW_SECONDS} each saw no compilation time added
 * ({@link CompilationMXBean#getTotalCompilationTime()}), or {@code capSeconds} passed. Where the JVM does not report
 * compilation time, the minimum warm-up is all there is.
 *
 * <p>Quiet windows are not enough on their own: a method the step calls once (the layer-level code around the kernels)
 * is offered to C2 only after HotSpot's {@code Tier4InvocationThreshold} calls (5,000 by default), so a step of 10 ms
 * goes quiet long before that and then speeds up again. Measured on the LSTM h128 step (2 threads, medians of blocks
 * of 500 steps): 11.0 to 11.6 ms from step 1,000 to 4,500, then 9.2 to 9.6 ms from step 4,500 on. So the quiet test
 * starts only after {@link #c2Steps()} steps (or at the cap).
 */
public final class JitWarmup {
    private JitWarmup() {}

    /** Length of one observation window. */
    public static final double WINDOW_SECONDS = 0.5;
    /** Consecutive windows without compilation that end the warm-up. */
    public static final int QUIET_WINDOWS = 3;

    /** What a warm-up did: steps run, seconds spent, and whether the JIT went quiet before the cap. */
    public record Outcome(int steps, double seconds, boolean quiet) {}

    /**
     * Runs {@code step} at least {@code minSteps} times and for at least {@code minSeconds}; then, when
     * {@code untilQuiet}, until the JIT is quiet or {@code capSeconds} (counted from the start) have passed.
     */
    public static Outcome run(Runnable step, int minSteps, double minSeconds, boolean untilQuiet, double capSeconds) {
        long t0 = System.nanoTime();
        long minEnd = t0 + (long) (minSeconds * 1e9), capEnd = t0 + (long) (capSeconds * 1e9);
        int n = 0;
        int c2 = untilQuiet ? c2Steps() : 0;
        for (; n < minSteps || System.nanoTime() < minEnd || (n < c2 && System.nanoTime() < capEnd); n++) step.run();
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean quiet = !untilQuiet || jit == null || !jit.isCompilationTimeMonitoringSupported();
        int quietWindows = 0;
        while (!quiet && System.nanoTime() < capEnd) {
            long before = jit.getTotalCompilationTime();
            long windowEnd = System.nanoTime() + (long) (WINDOW_SECONDS * 1e9);
            do { step.run(); n++; } while (System.nanoTime() < windowEnd);
            quietWindows = jit.getTotalCompilationTime() == before ? quietWindows + 1 : 0;
            quiet = quietWindows >= QUIET_WINDOWS;
        }
        return new Outcome(n, (System.nanoTime() - t0) / 1e9, quiet);
    }

    /**
     * Calls after which HotSpot offers a method to C2, plus a tenth: {@code Tier4InvocationThreshold} with tiered
     * compilation, {@code CompileThreshold} without; 0 where the JVM does not say (another VM).
     */
    static int c2Steps() {
        try {
            HotSpotDiagnosticMXBean hs = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (hs == null) return 0;
            boolean tiered = Boolean.parseBoolean(hs.getVMOption("TieredCompilation").getValue());
            long calls = Long.parseLong(hs.getVMOption(tiered ? "Tier4InvocationThreshold" : "CompileThreshold").getValue());
            return (int) Math.min(Integer.MAX_VALUE, calls + calls / 10);
        } catch (RuntimeException e) { // an option this JVM does not have
            return 0;
        }
    }
}
