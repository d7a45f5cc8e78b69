package dev.ballast.train.tensorboard;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a TensorBoard event file ({@code events.out.tfevents.<seconds>.<host>} in a directory): a version record,
 * then {@code Event} messages holding scalar and histogram summaries (tensorflow/core/util/event.proto,
 * framework/summary.proto), each framed by {@link TfRecord}. Records are flushed in groups by {@link #flush()}, so
 * TensorBoard sees a run while it trains. Not thread-safe.
 */
public final class EventFileWriter implements AutoCloseable {
    private final Path file;
    private final OutputStream out;

    /** Creates the directory when needed and a new event file in it. */
    public EventFileWriter(Path dir) throws IOException {
        Files.createDirectories(dir);
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        long now = System.currentTimeMillis();
        Path f = dir.resolve("events.out.tfevents." + now / 1000 + "." + host);
        for (int i = 1; Files.exists(f); i++) f = dir.resolve("events.out.tfevents." + now / 1000 + "." + host + "." + i);
        this.file = f;
        this.out = Files.newOutputStream(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        write(event(0).str(3, "brain.Event:2"));
        flush();
    }

    /** The file being written. */
    public Path file() { return file; }

    private static TfRecord.Proto event(long step) {
        return new TfRecord.Proto().dbl(1, System.currentTimeMillis() / 1000.0).int64(2, step);
    }

    private void write(TfRecord.Proto event) throws IOException { out.write(TfRecord.frame(event.toByteArray())); }

    /** A scalar summary {@code tag} = {@code value} at {@code step}. */
    public void scalar(String tag, long step, double value) throws IOException {
        TfRecord.Proto v = new TfRecord.Proto().str(1, tag).flt(2, (float) value);
        write(event(step).msg(5, new TfRecord.Proto().msg(1, v)));
    }

    /**
     * A histogram summary: {@code counts[i]} values in the bucket whose upper edge is {@code upperEdges[i]} (ascending;
     * the previous edge, or {@code min}, is its lower edge), with the values' min, max, count, sum and sum of squares.
     */
    public void histogram(String tag, long step, double min, double max, double num, double sum, double sumSquares,
                          double[] upperEdges, double[] counts) throws IOException {
        if (upperEdges.length != counts.length)
            throw new IllegalArgumentException("histogram " + tag + ": " + upperEdges.length + " edges but " + counts.length + " counts");
        TfRecord.Proto h = new TfRecord.Proto().dbl(1, min).dbl(2, max).dbl(3, num).dbl(4, sum).dbl(5, sumSquares)
                .packedDoubles(6, upperEdges).packedDoubles(7, counts);
        TfRecord.Proto v = new TfRecord.Proto().str(1, tag).msg(5, h);
        write(event(step).msg(5, new TfRecord.Proto().msg(1, v)));
    }

    public void flush() throws IOException { out.flush(); }

    @Override public void close() throws IOException { out.close(); }
}
