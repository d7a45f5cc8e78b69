package dev.ballast.train.tensorboard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.stability.monitor.Log2Histogram;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
    private static double[] minMax(byte[] event) {
        for (byte[] summary : lengthDelimited(event, 5))
            for (byte[] value : lengthDelimited(summary, 1))
                for (byte[] histo : lengthDelimited(value, 5)) {
                    double[] mm = new double[2];
                    ByteBuffer in = ByteBuffer.wrap(histo).order(ByteOrder.LITTLE_ENDIAN);
                    while (in.hasRemaining()) {
                        long key = varint(in);
                        int number = (int) (key >>> 3), wire = (int) (key & 7);
                        if (wire == 1) {
                            double v = in.getDouble();
                            if (number == 1 || number == 2) mm[number - 1] = v;
                        } else if (wire == 2) {
                            int len = (int) varint(in);
                            in.position(in.position() + len);
                        } else if (wire == 0) {
                            varint(in);
                        } else {
                            in.getInt();
                        }
                    }
                    return mm;
                }
        return null;
    }

    /** The length-delimited fields numbered {@code number} of a message. */
    private static List<byte[]> lengthDelimited(byte[] msg, int number) {
        List<byte[]> out = new ArrayList<>();
        ByteBuffer in = ByteBuffer.wrap(msg).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            long key = varint(in);
            int n = (int) (key >>> 3), wire = (int) (key & 7);
            switch (wire) {
                case 0 -> varint(in);
                case 1 -> in.getLong();
                case 5 -> in.getInt();
                case 2 -> {
                    byte[] v = new byte[(int) varint(in)];
                    in.get(v);
                    if (n == number) out.add(v);
                }
                default -> throw new AssertionError("wire type " + wire);
            }
        }
        return out;
    }

    private static long varint(ByteBuffer in) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte x = in.get();
            v |= (long) (x & 0x7F) << shift;
            if (x >= 0) return v;
        }
    }
}
