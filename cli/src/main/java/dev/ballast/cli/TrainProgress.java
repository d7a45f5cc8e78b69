package dev.ballast.cli;

import dev.ballast.train.builtin.BuiltinTraining;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * How {@code ballast train} shows progress: a progress bar (me.tongfei:progressbar) redrawn in place when stdout
 * is an interactive console, else plain lines on stderr every {@code printEvery} steps and at every evaluation,
 * so logs and CI output stay readable.
 */
abstract class TrainProgress implements BuiltinTraining.Listener, AutoCloseable {

    /** A bar on a console, plain lines otherwise. */
    static TrainProgress create(boolean console, long steps, long logEvery, PrintWriter err) {
        return console ? new Bar("train", steps) : new Lines(steps, printEvery(steps, logEvery), err);
    }

    /** About 20 lines per run, on logged steps (a multiple of logEvery). */
    static long printEvery(long steps, long logEvery) {
        long target = Math.max(1, steps / 20);
        return Math.max(logEvery, (target + logEvery - 1) / logEvery * logEvery);
    }

    static String metrics(Map<String, Double> m) {
        StringBuilder sb = new StringBuilder();
        for (var e : new TreeMap<>(m).entrySet())
            sb.append(sb.isEmpty() ? "" : "  ").append(e.getKey()).append(' ').append(String.format(Locale.ROOT, "%.4g", e.getValue()));
        return sb.toString();
    }

    @Override public void close() {}

    /** The in-place bar; its extra message holds the latest loss and evaluation. */
    static final class Bar extends TrainProgress {
        private final ProgressBar bar;
        private String eval = "";
        private boolean closed;

        Bar(String name, long steps) {
            bar = new ProgressBarBuilder().setTaskName(name).setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(200).showSpeed().build();
        }

        @Override public void onLoss(long step, double loss) {
            bar.stepTo(step);
            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.3g%s", loss, eval));
        }

        @Override public void onEval(long step, Map<String, Double> m) {
            // only the task's metric: the bar is squeezed to the terminal's width
            for (var e : m.entrySet())
                if (!e.getKey().equals("loss")) eval = String.format(Locale.ROOT, " %s %.4g", e.getKey(), e.getValue());
        }

        @Override public void close() {
            if (!closed) bar.close();
            closed = true;
        }
    }

    /** Plain lines: {@code step 300/3000  loss 0.5123  41.2 steps/s}, and {@code step 300/3000  test accuracy ...}. */
    static final class Lines extends TrainProgress {
        private final long steps;
        private final long every;
        private final PrintWriter err;
        private final long t0 = System.nanoTime();

        Lines(long steps, long every, PrintWriter err) {
            this.steps = steps;
            this.every = every;
            this.err = err;
        }

        @Override public void onLoss(long step, double loss) {
            if (step % every != 0 && step != steps) return;
            double secs = (System.nanoTime() - t0) / 1e9;
            err.println(String.format(Locale.ROOT, "step %d/%d  loss %.4g  %.1f steps/s", step, steps, loss, secs > 0 ? step / secs : 0.0));
            err.flush();
        }

        @Override public void onEval(long step, Map<String, Double> m) {
            err.println(String.format(Locale.ROOT, "step %d/%d  test %s", step, steps, metrics(m)));
            err.flush();
        }
    }
}
