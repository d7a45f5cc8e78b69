package dev.ballast.engine.io;

import java.util.Locale;

/**
 * A deterministic crash for tests of what a kill leaves behind: with the system property
 * {@code ballast.crash=before-save:STEP} the process halts (no shutdown hooks, no finally blocks, like
 * {@code kill -9}) just before the checkpoint of step STEP is written; with {@code during-save:STEP} it halts
 * halfway through writing that checkpoint's temporary file. The exit status is {@link #EXIT_STATUS}. Without the
 * property nothing happens; the property is read at each save, so a test JVM can set it per run.
 */
public final class CrashHook {
    /** The exit status of a crash (128 + SIGKILL, what a shell reports for {@code kill -9}). */
    public static final int EXIT_STATUS = 137;
    /** The system property read. */
    public static final String PROPERTY = "ballast.crash";

    private CrashHook() {}

    /** Halts when the property asks for a crash before the save of {@code step}. */
    static void beforeSave(long step) {
        if (matches("before-save", step)) crash("before-save", step);
    }

    /** A hook for {@link AtomicFiles} that halts mid-write when the property asks for it at {@code step}; else null. */
    static Runnable duringSave(long step) {
        return matches("during-save", step) ? () -> crash("during-save", step) : null;
    }

    private static boolean matches(String when, long step) {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) return false;
        String[] parts = v.strip().toLowerCase(Locale.ROOT).split(":");
        if (parts.length != 2 || !(parts[0].equals("before-save") || parts[0].equals("during-save")))
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + v + ": expected before-save:STEP or during-save:STEP");
        try {
            return parts[0].equals(when) && Long.parseLong(parts[1]) == step;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + v + ": STEP must be a whole number");
        }
    }

    private static void crash(String when, long step) {
        System.err.println("ballast: " + PROPERTY + " crash " + when + " at step " + step);
        System.err.flush();
        Runtime.getRuntime().halt(EXIT_STATUS);
    }
}
