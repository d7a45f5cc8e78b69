package dev.ballast.engine.autograd;

/**
 * Per-thread switches for autograd: whether ops are recorded ({@link #noGrad()}), and anomaly mode, which
 * checks every op's output and every gradient for non-finite values and names the op and module that made
 * the first one.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[]{true});
    private static final ThreadLocal<boolean[]> ANOMALY = ThreadLocal.withInitial(() -> new boolean[]{false});
    private static final ThreadLocal<java.util.ArrayDeque<String>> MODULES = ThreadLocal.withInitial(java.util.ArrayDeque::new);

    private GradMode() {}

    /** True when ops record the graph on this thread. */
    public static boolean isEnabled() { return ENABLED.get()[0]; }

    /** A scope in which no op is recorded (like torch.no_grad()); restores the previous mode on close. */
    public static Guard noGrad() { return set(ENABLED, false); }

    /** A scope with recording switched on even inside noGrad. */
    public static Guard enableGrad() { return set(ENABLED, true); }

    /** True when anomaly detection is on for this thread. */
    public static boolean isAnomalyEnabled() { return ANOMALY.get()[0]; }

    /** A scope with anomaly detection (like torch.autograd.detect_anomaly()). Slow: checks every value. */
    public static Guard detectAnomaly() { return set(ANOMALY, true); }

    /** Marks that the module at {@code path} is running, so recorded ops carry its name. */
    public static Guard enterModule(String path) {
        java.util.ArrayDeque<String> st = MODULES.get();
        st.push(path);
        return () -> st.pop();
    }

    /** The innermost running module's path, or "" at top level. */
    public static String currentModule() {
        String s = MODULES.get().peek();
        return s == null ? "" : s;
    }

    private static Guard set(ThreadLocal<boolean[]> flag, boolean value) {
        boolean[] f = flag.get();
        boolean prev = f[0];
        f[0] = value;
        return () -> f[0] = prev;
    }

    /** Restores the previous state when closed. */
    @FunctionalInterface
    public interface Guard extends AutoCloseable {
        @Override void close();
    }
}
