package dev.ballast.train.tensorboard;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The TFRecord framing of TensorBoard event files: {@code uint64 length, uint32 masked_crc32c(length), data,
 * uint32 masked_crc32c(data)}, little-endian, where the mask is {@code ((crc >>> 15) | (crc << 17)) + 0xa282ead8}.
 */
public final class TfRecord {
    private TfRecord() {}

    /** CRC-32C (Castagnoli) of {@code b}, masked as TensorFlow masks it. */
    public static int maskedCrc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        int crc = (int) c.getValue();
        return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    }

    /** One framed record holding {@code data}. */
    public static byte[] frame(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + data.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(data.length);
        b.putInt(maskedCrc(b.array(), 0, 8));
        b.put(data);
        b.putInt(maskedCrc(data, 0, data.length));
        return b.array();
    }

    /** Reads every record of a stream, checking both CRCs; throws IOException naming the record that is damaged. */
    public static List<byte[]> readAll(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        List<byte[]> out = new ArrayList<>();
        byte[] header = new byte[12];
        while (true) {
            int n = d.read(header, 0, 1);
            if (n < 0) return out;
            try {
                d.readFully(header, 1, 11);
            } catch (EOFException e) {
                throw new IOException("tfrecord " + out.size() + ": truncated header", e);
            }
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            long len = h.getLong();
            if (h.getInt() != maskedCrc(header, 0, 8))
                throw new IOException("tfrecord " + out.size() + ": the length's CRC does not match");
            if (len < 0 || len > Integer.MAX_VALUE - 16) throw new IOException("tfrecord " + out.size() + ": bad length " + len);
            byte[] data = new byte[(int) len];
            try {
                d.readFully(data);
                byte[] crc = new byte[4];
                d.readFully(crc);
                if (ByteBuffer.wrap(crc).order(ByteOrder.LITTLE_ENDIAN).getInt() != maskedCrc(data, 0, data.length))
                    throw new IOException("tfrecord " + out.size() + ": the data's CRC does not match");
            } catch (EOFException e) {
                throw new IOException("tfrecord " + out.size() + ": truncated", e);
            }
            out.add(data);
        }
    }

    /**
     * One protobuf field of a decoded message: varint and fixed-width values in {@code bits} (raw bits: a double's
     * {@code Double.longBitsToDouble(bits)}, a float's {@code Float.intBitsToFloat((int) bits)}), length-delimited
     * ones (strings, bytes, nested messages) in {@code bytes}.
     */
    public record ProtoField(int number, long bits, byte[] bytes) {}

    /** The fields of one protobuf message in order: the reading twin of {@link Proto}, for tests and tools. */
    public static List<ProtoField> fields(byte[] msg) throws IOException {
        List<ProtoField> out = new ArrayList<>();
        ByteBuffer in = ByteBuffer.wrap(msg).order(ByteOrder.LITTLE_ENDIAN);
        try {
            while (in.hasRemaining()) {
                long key = readVarint(in);
                int number = (int) (key >>> 3), wire = (int) (key & 7);
                switch (wire) {
                    case 0 -> out.add(new ProtoField(number, readVarint(in), null));
                    case 1 -> out.add(new ProtoField(number, in.getLong(), null));
                    case 5 -> out.add(new ProtoField(number, in.getInt() & 0xFFFF_FFFFL, null));
                    case 2 -> {
                        byte[] v = new byte[(int) readVarint(in)];
                        in.get(v);
                        out.add(new ProtoField(number, 0, v));
                    }
                    default -> throw new IOException("protobuf field " + number + ": wire type " + wire
                            + " is not one an event file uses (0, 1, 2, 5)");
                }
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new IOException("protobuf message truncated after " + out.size() + " fields", e);
        }
        return out;
    }

    private static long readVarint(ByteBuffer in) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte x = in.get();
            v |= (long) (x & 0x7F) << shift;
            if (x >= 0) return v;
        }
    }

    /** Minimal protobuf encoding: the wire types an event file needs. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void varint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void tag(int field, int wire) { varint(((long) field << 3) | wire); }

        Proto int64(int field, long v) { tag(field, 0); varint(v); return this; }

        Proto dbl(int field, double v) {
            tag(field, 1);
            long bits = Double.doubleToRawLongBits(v);
            for (int i = 0; i < 8; i++) out.write((int) (bits >>> (8 * i)));
            return this;
        }

        Proto flt(int field, float v) {
            tag(field, 5);
            int bits = Float.floatToRawIntBits(v);
            for (int i = 0; i < 4; i++) out.write(bits >>> (8 * i));
            return this;
        }

        Proto bytes(int field, byte[] b) {
            tag(field, 2);
            varint(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        Proto str(int field, String s) { return bytes(field, s.getBytes(java.nio.charset.StandardCharsets.UTF_8)); }

        Proto msg(int field, Proto m) { return bytes(field, m.toByteArray()); }

        Proto packedDoubles(int field, double[] v) {
            Proto p = new Proto();
            for (double x : v) {
                long bits = Double.doubleToRawLongBits(x);
                for (int i = 0; i < 8; i++) p.out.write((int) (bits >>> (8 * i)));
            }
            return bytes(field, p.toByteArray());
        }

        byte[] toByteArray() { return out.toByteArray(); }
    }
}
