package dev.ballast.train.tensorboard;

import dev.ballast.stability.monitor.HealthSnapshot;
import dev.ballast.stability.monitor.Log2Histogram;
import dev.ballast.stability.monitor.ParamStats;
import dev.ballast.train.Trainer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * Logs a run to a TensorBoard event file on every logged step: scalars {@code train/loss}, {@code train/lr},
 * {@code amp/loss_scale} (when a loss scale is given), and from each new gradient-monitor reading
 * {@code grad/global_norm}, {@code grad/norm/<parameter>} and the histogram {@code grad/<parameter>}. The histogram is
 * the monitor's log2-magnitude histogram: it shows the distribution of {@code log2 |g|} over the non-zero finite
 * gradient values, one bucket per power of two (sum and sum of squares from bucket midpoints). Under fp16 loss scaling
 * the monitor's readings are already divided by the scale (norms, and histograms moved back by whole bins for a
 * power-of-two scale); a histogram still marked with a scale (a static scale that is not a power of two, see
 * {@code Log2Histogram}) has its bucket edges shifted by {@code -log2(scale)}, which is exact, so every histogram
 * shows {@code log2 |g|} of the unscaled gradients.
 */
public final class TensorBoardHook implements Trainer.StepHook, AutoCloseable {
    private final EventFileWriter writer;
    private final Supplier<HealthSnapshot> readings;
    private DoubleSupplier lossScale;
    private long lastReading = -1;

    /** {@code readings} gives the monitor's latest reading (or null); it may be null when no monitor runs. */
    public TensorBoardHook(EventFileWriter writer, Supplier<HealthSnapshot> readings) {
        this.writer = writer;
        this.readings = readings;
    }

    /** Also logs {@code amp/loss_scale} from this source (mixed precision's GradScaler scale). */
    public TensorBoardHook lossScale(DoubleSupplier s) {
        this.lossScale = s;
        return this;
    }

    public EventFileWriter writer() { return writer; }

    @Override public void onLog(long step, Map<String, Object> line) {
        try {
            if (line.containsKey("loss")) writer.scalar("train/loss", step, number(line.get("loss")));
            if (line.containsKey("lr")) writer.scalar("train/lr", step, number(line.get("lr")));
            if (lossScale != null) writer.scalar("amp/loss_scale", step, lossScale.getAsDouble());
            HealthSnapshot s = readings == null ? null : readings.get();
            if (s != null && s.step() != lastReading) {
                lastReading = s.step();
                writer.scalar("grad/global_norm", s.step(), s.globalGradNorm());
                for (ParamStats p : s.params()) {
                    writer.scalar("grad/norm/" + p.name(), s.step(), p.gradNorm());
                    histogram("grad/" + p.name(), s.step(), p.histogram());
                }
            }
            writer.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("tensorboard: writing " + writer.file() + " failed: " + e.getMessage(), e);
        }
    }

    /** The log2-magnitude histogram as buckets of log2 |g|: bin b covers [b-127, b-126); float32 subnormals [-149, -126). */
    void histogram(String tag, long step, Log2Histogram h) throws IOException {
        long[] c = h.counts();
        long subnormal = c[0] - h.zeros();
        int lo = -1, hi = -1;
        for (int b = 1; b < 255; b++) {
            if (c[b] == 0) continue;
            if (lo < 0) lo = b;
            hi = b;
        }
        if (subnormal > 0) lo = 0;
        if (lo < 0) return; // no non-zero finite values: nothing to draw
        int n = hi < 0 ? 1 : hi - lo + 1;
        double shift = -Math.log(h.scale()) / Math.log(2); // 0 for a histogram of the gradients' own magnitudes
        double[] edges = new double[n], counts = new double[n];
        double sum = 0, sumSq = 0, num = 0;
        for (int i = 0; i < n; i++) {
            int b = lo + i;
            long k = b == 0 ? subnormal : c[b];
            double low = (b == 0 ? -149 : b - 127) + shift, high = (b == 0 ? -126 : b - 126) + shift;
            edges[i] = high;
            counts[i] = k;
            double mid = (low + high) / 2;
            sum += k * mid;
            sumSq += k * mid * mid;
            num += k;
        }
        double min = (lo == 0 ? -149 : lo - 127) + shift, max = edges[n - 1];
        writer.histogram(tag, step, min, max, num, sum, sumSq, edges, counts);
    }

    private static double number(Object v) {
        if (v instanceof Number n) return n.doubleValue();
        return Double.parseDouble(String.valueOf(v)); // "NaN", "Infinity" as the metrics line writes them
    }

    @Override public void close() throws IOException { writer.close(); }
}
