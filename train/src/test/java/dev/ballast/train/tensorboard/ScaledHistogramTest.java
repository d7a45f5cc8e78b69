package dev.ballast.train.tensorboard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.stability.monitor.Log2Histogram;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TensorBoard histogram of a reading still marked with a loss scale that is not a power of two (a static fp16
 * scale such as 1000): its bucket edges are moved by {@code -log2(scale)}, so it shows log2 |g| of the unscaled
 * gradients; a histogram of the gradients' own magnitudes keeps whole-number edges.
 */
class ScaledHistogramTest {
    @TempDir Path dir;

    /** Values in the binades 2^-20 .. 2^-18 (bins 107..109). */
    private static long[] counts() {
        long[] c = new long[GradStatsLayout.BINS];
        c[107] = 5;
        c[108] = 10;
        c[109] = 3;
        return c;
    }

    @Test
    void edgesOfAScaledHistogramAreShiftedByTheExactLog2OfTheScale() throws Exception {
        TensorBoardHook hook = new TensorBoardHook(new EventFileWriter(dir), null);
        hook.histogram("plain", 1, new Log2Histogram(counts(), 0));
        hook.histogram("scaled", 1, new Log2Histogram(counts(), 0, 1000));
        hook.close();
        List<double[]> h = new ArrayList<>(); // {min, max} of each histogram, in order
        try (var files = Files.list(dir)) {
            for (Path f : files.toList())
                try (InputStream in = Files.newInputStream(f)) {
                    for (byte[] rec : TfRecord.readAll(in)) {
                        double[] mm = minMax(rec);
                        if (mm != null) h.add(mm);
                    }
                }
        }
        assertEquals(2, h.size());
        double shift = Math.log(1000) / Math.log(2);
        assertEquals(-20, h.get(0)[0], 0, "plain min: lower edge of bin 107");
        assertEquals(-17, h.get(0)[1], 0, "plain max: upper edge of bin 109");
        assertEquals(-20 - shift, h.get(1)[0], 1e-12, "scaled min: log2 of the unscaled lower edge");
        assertEquals(-17 - shift, h.get(1)[1], 1e-12, "scaled max");
    }

    /** Event.summary(5).value(1).histo(5).{min(1), max(2)}, or null for an event without a histogram. */
    private static double[] minMax(byte[] event) throws IOException {
        for (byte[] summary : lengthDelimited(event, 5))
            for (byte[] value : lengthDelimited(summary, 1))
                for (byte[] histo : lengthDelimited(value, 5)) {
                    double[] mm = new double[2];
                    for (TfRecord.ProtoField f : TfRecord.fields(histo))
                        if (f.number() == 1 || f.number() == 2) mm[f.number() - 1] = Double.longBitsToDouble(f.bits());
                    return mm;
                }
        return null;
    }

    /** The length-delimited fields numbered {@code number} of a message. */
    private static List<byte[]> lengthDelimited(byte[] msg, int number) throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (TfRecord.ProtoField f : TfRecord.fields(msg))
            if (f.number() == number && f.bytes() != null) out.add(f.bytes());
        return out;
    }
}
