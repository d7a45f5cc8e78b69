package dev.ballast.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress display redrawn in place with a carriage return: percentage, a bar, done/total and a
 * status text (loss, lr, speed). It draws only when enabled; {@link #forConsole} enables it only when the JVM has
 * an interactive console, so logs and CI output stay clean. Redraws at most every 100 ms.
 */
public final class ProgressReporter {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final long total;
    private final boolean enabled;
    private long lastDraw = Long.MIN_VALUE;
    private int lastLength;

    public ProgressReporter(PrintStream out, long total, boolean enabled) {
        this.out = out;
        this.total = Math.max(total, 1);
        this.enabled = enabled;
    }

    /** A reporter on standard error that draws only when {@code System.console()} is not null. */
    public static ProgressReporter forConsole(long total) {
        return new ProgressReporter(System.err, total, System.console() != null);
    }

    public boolean enabled() { return enabled; }

    /** Redraws with {@code done} of the total finished (throttled unless {@code done} is the total). */
    public void update(long done, String status) {
        if (!enabled) return;
        long now = System.nanoTime();
        if (done < total && lastDraw != Long.MIN_VALUE && now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        String line = render(done, total, status);
        int pad = Math.max(0, lastLength - line.length());
        out.print("\r" + line + " ".repeat(pad));
        out.flush();
        lastLength = line.length();
    }

    /** Ends the line (when anything was drawn). */
    public void finish() {
        if (enabled && lastLength > 0) {
            out.println();
            out.flush();
        }
    }

    /** The line for {@code done} of {@code total}: {@code " 45% [=============>                ] 450/1000 status"}. */
    static String render(long done, long total, String status) {
        double frac = Math.min(1, Math.max(0, done / (double) total));
        int filled = (int) Math.round(frac * WIDTH);
        StringBuilder bar = new StringBuilder();
        for (int i = 0; i < WIDTH; i++) bar.append(i < filled ? '=' : (i == filled ? '>' : ' '));
        return String.format(Locale.ROOT, "%3d%% [%s] %d/%d %s", Math.round(frac * 100), bar, done, total,
                status == null ? "" : status).stripTrailing();
    }
}
