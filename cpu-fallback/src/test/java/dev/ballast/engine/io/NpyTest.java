package dev.ballast.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** .npy: NumPy's own file, versions 1.0/2.0, every supported dtype, Fortran order, and errors. */
class NpyTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    @Test
    void readsNumpysFile() throws IOException {
        try (Tensor t = Npy.read(SafeTensorsTest.resource("interop_f32.npy"), CPU)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[]{2, 3, 4}, t.shape());
            float[] v = t.toFloatArray();
            for (int i = 0; i < 24; i++) assertEquals((float) ((i - 5) / 3.0), v[i], 0, "element " + i);
        }
    }

    @Test
    void roundTripsEverySupportedDtype() throws IOException {
        SplittableRandom r = new SplittableRandom(3);
        for (DType t : new DType[]{DType.F32, DType.F64, DType.F16, DType.I32, DType.I64}) {
            double[] v = SafeTensorsTest.random(r, 15, 10, !t.isFloating());
            for (long[] shape : new long[][]{{3, 5}, {15}, {}}) {
                double[] vals = shape.length == 0 ? new double[]{v[0]} : v;
                Path p = dir.resolve(t.label() + shape.length + ".npy");
                try (Tensor in = Tensor.fromArray(CPU, t, vals, shape)) {
                    Npy.write(p, in);
                    assertEquals(0, (10 + ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN).getShort(8)) % 64,
                            "header aligned to 64 bytes as NumPy writes it");
                    try (Tensor out = Npy.read(p, CPU)) {
                        assertEquals(t, out.dtype());
                        assertArrayEquals(shape, out.shape());
                        assertArrayEquals(in.toDoubleArray(), out.toDoubleArray(), 0);
                    }
                }
            }
        }
    }

    static byte[] npy(int major, String dict, byte[] data) {
        byte[] h = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
        int pre = major == 1 ? 10 : 12;
        ByteBuffer b = ByteBuffer.allocate(pre + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) b.putShort((short) h.length); else b.putInt(h.length);
        return b.put(h).put(data).array();
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    @Test
    void version2AndFortranOrder() throws IOException {
        Path p = dir.resolve("v2.npy");
        Files.write(p, npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", floats(1, 2, 3, 4)));
        try (Tensor t = Npy.read(p, CPU)) {
            assertArrayEquals(new double[]{1, 2, 3, 4}, t.toDoubleArray(), 0);
        }
        // Fortran order: a 2x3 array [[1,2,3],[4,5,6]] is stored column by column
        Files.write(p, npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", floats(1, 4, 2, 5, 3, 6)));
        try (Tensor t = Npy.read(p, CPU)) {
            assertArrayEquals(new long[]{2, 3}, t.shape());
            assertArrayEquals(new double[]{1, 2, 3, 4, 5, 6}, t.toDoubleArray(), 0);
        }
    }

    void assertBad(byte[] content, String fragment) throws IOException {
        Path p = dir.resolve("bad.npy");
        Files.write(p, content);
        IOException e = assertThrows(IOException.class, () -> Npy.read(p, CPU));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void errorsNameTheProblem() throws IOException {
        assertBad("not numpy at all".getBytes(StandardCharsets.US_ASCII), "magic");
        assertBad(npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", floats(1)), "unsupported dtype '>f4'");
        assertBad(npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", new byte[1]), "unsupported dtype");
        assertBad(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", floats(1, 2)), "truncated");
        assertBad(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1, 2)), "trailing");
        assertBad(npy(1, "{'descr': '<f4', 'shape': (1,), }", floats(1)), "fortran_order");
        assertBad(npy(1, "{'descr': '<f4' 'fortran_order': False}", floats(1)), "bad header");
        byte[] v9 = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
        v9[6] = 9;
        assertBad(v9, "version 9.0");
    }
}
