package dev.ballast.dist;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Bounds how long a collective may block. A collective cannot be interrupted once inside the native library, so
 * when one has waited past the timeout for its peers (one died, or hangs), the watchdog reports it and stops this
 * process through {@code onTimeout} (by default: a line on stderr naming the rank and the call, then
 * {@code Runtime.halt(1)}; the launcher then ends the other ranks). One daemon thread per watchdog; it sleeps while
 * no collective is running.
 */
public final class Watchdog implements AutoCloseable {
    /** Environment variable: seconds a collective may wait before the rank stops (default 60). */
    public static final String TIMEOUT_ENV = "BALLAST_DIST_TIMEOUT";
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private final Duration timeout;
    private final String who;
    private final Consumer<String> onTimeout;
    private final Thread thread;
    private final Object lock = new Object();
    private String call;       // guarded by lock
    private long deadline;     // System.nanoTime() at which `call` times out; guarded by lock
    private boolean closed;    // guarded by lock

    /** A watchdog for {@code who} (e.g. "rank 1 of 2") that calls {@code onTimeout} with the message on a timeout. */
    public Watchdog(Duration timeout, String who, Consumer<String> onTimeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("watchdog timeout must be > 0, got " + timeout);
        this.timeout = timeout;
        this.who = Objects.requireNonNull(who);
        this.onTimeout = Objects.requireNonNull(onTimeout);
        this.thread = Thread.ofPlatform().daemon().name("ballast-collective-watchdog").start(this::watch);
    }

    /** The default: timeout from {@value #TIMEOUT_ENV} (seconds) or 60 s; prints and halts on a timeout. */
    public static Watchdog standard(String who) {
        return new Watchdog(timeoutFromEnvironment(), who, message -> {
            System.err.println(message);
            System.err.flush();
            Runtime.getRuntime().halt(1);
        });
    }

    /** {@value #TIMEOUT_ENV} in seconds, or 60 s; a bad value is an error saying what is allowed. */
    public static Duration timeoutFromEnvironment() {
        String v = System.getenv(TIMEOUT_ENV);
        if (v == null || v.isBlank()) return DEFAULT_TIMEOUT;
        try {
            double s = Double.parseDouble(v.strip());
            if (s > 0 && Double.isFinite(s)) return Duration.ofMillis(Math.round(s * 1000));
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(TIMEOUT_ENV + "=" + v + " is not a positive number of seconds");
    }

    public Duration timeout() { return timeout; }

    /** Marks {@code callName} as running until the returned guard is closed. */
    public Guard enter(String callName) {
        synchronized (lock) {
            call = callName;
            deadline = System.nanoTime() + timeout.toNanos();
            lock.notifyAll();
        }
        return this::leave;
    }

    /** Closing it marks the collective as finished. */
    @FunctionalInterface
    public interface Guard extends AutoCloseable {
        @Override void close();
    }

    private void leave() {
        synchronized (lock) {
            call = null;
        }
    }

    private void watch() {
        synchronized (lock) {
            while (!closed) {
                try {
                    if (call == null) {
                        lock.wait();
                        continue;
                    }
                    long left = deadline - System.nanoTime();
                    if (left > 0) {
                        lock.wait(Math.max(1, left / 1_000_000), 0);
                        continue;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                String message = String.format(java.util.Locale.ROOT,
                        "ballast: %s: %s has waited %d s for the other ranks; one of them died or hangs. Stopping this rank "
                                + "(set %s to wait longer).", who, call, timeout.toSeconds(), TIMEOUT_ENV);
                call = null;
                onTimeout.accept(message);
            }
        }
    }

    @Override public void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
