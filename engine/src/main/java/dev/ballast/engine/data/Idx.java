package dev.ballast.engine.data;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reads IDX files, the format of MNIST: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte,
 * 0x0B short, 0x0C int, 0x0D float, 0x0E double), the number of dimensions, each dimension as a big-endian
 * 32-bit integer, then the big-endian data in row-major order. Files ending in {@code .gz} are decompressed.
 * Integer types become I32 tensors (MNIST pixels 0..255, labels 0..9), float F32 and double F64. A truncated or
 * corrupt file raises an IOException naming the file and what is wrong.
 */
public final class Idx {
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE / 8;

    private Idx() {}

    /** Reads {@code path} onto {@code device} in the natural dtype for its type code. */
    public static Tensor read(Path path, Device device) throws IOException {
        byte[] b = readAll(path);
        if (b.length < 4) throw bad(path, "file is " + b.length + " bytes, too short for the 4-byte magic number");
        if (b[0] != 0 || b[1] != 0)
            throw bad(path, String.format("bad magic number %02x%02x%02x%02x: the first two bytes must be 0", b[0], b[1], b[2], b[3]));
        int type = b[2] & 0xff;
        int elemSize = switch (type) {
            case 0x08, 0x09 -> 1;
            case 0x0B -> 2;
            case 0x0C, 0x0D -> 4;
            case 0x0E -> 8;
            default -> throw bad(path, String.format("unknown data type code 0x%02x (allowed: 0x08 ubyte, 0x09 byte, 0x0B short, "
                    + "0x0C int, 0x0D float, 0x0E double)", type));
        };
        int rank = b[3] & 0xff;
        int headerLen = 4 + 4 * rank;
        if (b.length < headerLen) throw bad(path, "file is " + b.length + " bytes, too short for " + rank + " dimensions (truncated header)");
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN);
        long[] shape = new long[rank];
        long n = 1;
        for (int i = 0; i < rank; i++) {
            int d = bb.getInt(4 + 4 * i);
            if (d < 0) throw bad(path, "dimension " + i + " is negative (" + d + ")");
            shape[i] = d;
            n = Math.multiplyExact(n, d);
            if (n > MAX_ELEMENTS) throw bad(path, "shape " + Arrays.toString(shape) + " is too large");
        }
        long need = n * elemSize, have = b.length - headerLen;
        if (have < need)
            throw bad(path, "data holds " + have + " bytes but shape " + Arrays.toString(shape) + " needs " + need + " (truncated)");
        if (have > need)
            throw bad(path, "data holds " + have + " bytes but shape " + Arrays.toString(shape) + " needs only " + need + " (trailing bytes)");
        int count = (int) n;
        bb.position(headerLen);
        switch (type) {
            case 0x0D -> {
                float[] v = new float[count];
                bb.asFloatBuffer().get(v);
                return Tensor.fromArray(device, v, shape);
            }
            case 0x0E -> {
                double[] v = new double[count];
                bb.asDoubleBuffer().get(v);
                return Tensor.fromArray(device, DType.F64, v, shape);
            }
            default -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment seg = arena.allocate(ValueLayout.JAVA_INT, Math.max(count, 1));
                    for (int i = 0; i < count; i++) {
                        int p = headerLen + i * elemSize;
                        int v = switch (type) {
                            case 0x08 -> b[p] & 0xff;
                            case 0x09 -> b[p];
                            case 0x0B -> bb.getShort(p);
                            default -> bb.getInt(p);
                        };
                        seg.setAtIndex(ValueLayout.JAVA_INT, i, v);
                    }
                    if (count == 0) return Tensor.empty(device, DType.I32, shape);
                    return Tensor.upload(device, seg.asSlice(0, 4L * count), DType.I32, DType.I32, shape);
                }
            }
        }
    }

    /** Reads {@code path} and converts to {@code dtype} (e.g. F32 for images). */
    public static Tensor read(Path path, Device device, DType dtype) throws IOException {
        Tensor t = read(path, device);
        if (t.dtype() == dtype) return t;
        try (t) {
            Tensor out = Tensor.empty(device, dtype, t.shape());
            return out.copyFrom(t);
        }
    }

    private static byte[] readAll(Path path) throws IOException {
        if (!path.getFileName().toString().endsWith(".gz")) return Files.readAllBytes(path);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(path))) {
            return in.readAllBytes();
        } catch (java.io.EOFException | java.util.zip.ZipException e) {
            throw bad(path, "corrupt or truncated gzip stream (" + e.getMessage() + ")");
        }
    }

    private static IOException bad(Path path, String what) {
        return new IOException("IDX file " + path + ": " + what);
    }
}
