package dev.ballast.engine.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX (MNIST) files written byte by byte here, read back, and rejected with clear messages when broken. */
class IdxTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    static byte[] idx(int type, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length); // big-endian by default
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }

    @Test
    void readsUnsignedBytesLikeMnistImages() throws IOException {
        byte[] px = new byte[2 * 3 * 2];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 23); // goes past 127: must read unsigned
        Path p = dir.resolve("images-idx3-ubyte");
        Files.write(p, idx(0x08, new int[]{2, 3, 2}, px));
        try (Tensor t = Idx.read(p, CPU)) {
            assertEquals(DType.I32, t.dtype());
            assertArrayEquals(new long[]{2, 3, 2}, t.shape());
            long[] v = t.toLongArray();
            for (int i = 0; i < px.length; i++) assertEquals(px[i] & 0xff, v[i]);
        }
        try (Tensor f = Idx.read(p, CPU, DType.F32)) {
            assertEquals(DType.F32, f.dtype());
            assertEquals(23 * 11 & 0xff, f.toDoubleArray()[11], 0);
        }
    }

    @Test
    void readsSignedShortIntFloatDoubleAndGzip() throws IOException {
        ByteBuffer s = ByteBuffer.allocate(6).putShort((short) -300).putShort((short) 7).putShort((short) 32000);
        Files.write(dir.resolve("s"), idx(0x0B, new int[]{3}, s.array()));
        ByteBuffer i = ByteBuffer.allocate(8).putInt(-70000).putInt(123456789);
        Files.write(dir.resolve("i"), idx(0x0C, new int[]{2}, i.array()));
        ByteBuffer f = ByteBuffer.allocate(8).putFloat(1.5f).putFloat(-2.25f);
        Files.write(dir.resolve("f"), idx(0x0D, new int[]{1, 2}, f.array()));
        ByteBuffer d = ByteBuffer.allocate(16).putDouble(Math.PI).putDouble(-1e-300);
        Files.write(dir.resolve("d"), idx(0x0E, new int[]{2}, d.array()));
        Files.write(dir.resolve("b"), idx(0x09, new int[]{2}, new byte[]{-5, 5}));
        try (Tensor t = Idx.read(dir.resolve("s"), CPU)) { assertArrayEquals(new long[]{-300, 7, 32000}, t.toLongArray()); }
        try (Tensor t = Idx.read(dir.resolve("i"), CPU)) { assertArrayEquals(new long[]{-70000, 123456789}, t.toLongArray()); }
        try (Tensor t = Idx.read(dir.resolve("f"), CPU)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new double[]{1.5, -2.25}, t.toDoubleArray(), 0);
        }
        try (Tensor t = Idx.read(dir.resolve("d"), CPU)) {
            assertEquals(DType.F64, t.dtype());
            assertArrayEquals(new double[]{Math.PI, -1e-300}, t.toDoubleArray(), 0);
        }
        try (Tensor t = Idx.read(dir.resolve("b"), CPU)) { assertArrayEquals(new long[]{-5, 5}, t.toLongArray()); }
        Path gz = dir.resolve("labels-idx1-ubyte.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
            o.write(idx(0x08, new int[]{4}, new byte[]{3, 1, 4, 1}));
        }
        try (Tensor t = Idx.read(gz, CPU)) { assertArrayEquals(new long[]{3, 1, 4, 1}, t.toLongArray()); }
    }

    void assertBad(byte[] content, String fragment) throws IOException {
        Path p = dir.resolve("bad-idx");
        Files.write(p, content);
        IOException e = assertThrows(IOException.class, () -> Idx.read(p, CPU));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void truncatedAndCorruptFiles() throws IOException {
        assertBad(new byte[]{0, 0}, "too short");
        assertBad(new byte[]{1, 0, 8, 1, 0, 0, 0, 1, 5}, "bad magic");
        assertBad(idx(0x07, new int[]{1}, new byte[1]), "unknown data type code 0x07");
        assertBad(java.util.Arrays.copyOf(idx(0x08, new int[]{2, 2}, new byte[4]), 9), "truncated header");
        assertBad(idx(0x08, new int[]{2, 3}, new byte[5]), "truncated");
        assertBad(idx(0x08, new int[]{2}, new byte[3]), "trailing");
        assertBad(idx(0x0C, new int[]{-1}, new byte[0]), "negative");
        Path gz = dir.resolve("broken.gz");
        Files.write(gz, new byte[]{31, -117, 8, 0, 1, 2});
        IOException e = assertThrows(IOException.class, () -> Idx.read(gz, CPU));
        assertTrue(e.getMessage().contains(gz.toString()), e.getMessage());
    }
}
