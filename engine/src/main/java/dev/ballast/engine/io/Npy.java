package dev.ballast.engine.io;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes NumPy {@code .npy} files: format versions 1.0, 2.0 and 3.0, little-endian dtypes {@code <f4},
 * {@code <f8}, {@code <f2}, {@code <i4}, {@code <i8}. Fortran-ordered arrays are transposed into the row-major
 * layout tensors use. Problems are IOExceptions naming the file and what is wrong.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    private Npy() {}

    /** Reads an array onto {@code device}. */
    public static Tensor read(Path path, Device device) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new UnsupportedOperationException(".npy reading needs a little-endian host");
        byte[] bytes = Files.readAllBytes(path);
        if (bytes.length < 10) throw bad(path, "file is " + bytes.length + " bytes, too short for the .npy preamble");
        for (int i = 0; i < MAGIC.length; i++)
            if (bytes[i] != MAGIC[i]) throw bad(path, "missing the \\x93NUMPY magic: not a .npy file");
        int major = bytes[6] & 0xff, minor = bytes[7] & 0xff;
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen;
        int start;
        switch (major) {
            case 1 -> { headerLen = bb.getShort(8) & 0xffff; start = 10; }
            case 2, 3 -> {
                if (bytes.length < 12) throw bad(path, "file too short for a version " + major + " preamble");
                headerLen = bb.getInt(8) & 0xffffffffL;
                start = 12;
            }
            default -> throw bad(path, "unsupported format version " + major + "." + minor + " (supported: 1.0, 2.0, 3.0)");
        }
        if (start + headerLen > bytes.length) throw bad(path, "header length " + headerLen + " runs past the end of the file (truncated)");
        String header = new String(bytes, start, (int) headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> dict;
        try {
            dict = new PyLiteral(header.strip()).dict();
        } catch (IllegalArgumentException e) {
            throw bad(path, "bad header '" + header.strip() + "': " + e.getMessage());
        }
        if (!(dict.get("descr") instanceof String descr)) throw bad(path, "header has no 'descr' string");
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) throw bad(path, "header has no 'fortran_order' boolean");
        if (!(dict.get("shape") instanceof long[] shape)) throw bad(path, "header has no 'shape' tuple");
        DType dt = switch (descr) {
            case "<f4" -> DType.F32;
            case "<f8" -> DType.F64;
            case "<f2" -> DType.F16;
            case "<i4" -> DType.I32;
            case "<i8" -> DType.I64;
            default -> throw bad(path, "unsupported dtype '" + descr + "' (supported: <f4, <f8, <f2, <i4, <i8; little-endian only)");
        };
        long numel = 1;
        for (long d : shape) {
            if (d < 0) throw bad(path, "negative dimension in shape");
            numel = Math.multiplyExact(numel, d);
        }
        long dataStart = start + headerLen;
        long need = Math.multiplyExact(numel, (long) dt.byteSize());
        long have = bytes.length - dataStart;
        if (have < need) throw bad(path, "data holds " + have + " bytes but shape and dtype need " + need + " (truncated)");
        if (have > need) throw bad(path, "data holds " + have + " bytes but shape and dtype need only " + need + " (trailing bytes)");
        MemorySegment data = MemorySegment.ofArray(bytes).asSlice(dataStart, need);
        if (!fortran) return uploadHeap(device, data, dt, shape);
        // Fortran order is row-major data of the reversed shape: read it so, then transpose back
        long[] rev = new long[shape.length];
        int[] axes = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            rev[i] = shape[shape.length - 1 - i];
            axes[i] = shape.length - 1 - i;
        }
        try (Tensor t = uploadHeap(device, data, dt, rev); Tensor tp = t.permute(axes)) {
            Tensor out = Tensor.empty(device, dt, shape);
            return out.copyFrom(tp);
        }
    }

    private static Tensor uploadHeap(Device device, MemorySegment heap, DType dt, long[] shape) {
        // backends copy from native memory; stage the heap bytes there
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment native_ = arena.allocate(Math.max(heap.byteSize(), 1), 8);
            MemorySegment.copy(heap, 0, native_, 0, heap.byteSize());
            if (heap.byteSize() == 0) return Tensor.empty(device, dt, shape);
            return Tensor.upload(device, native_.asSlice(0, heap.byteSize()), dt, dt, shape);
        }
    }

    /** Writes {@code t} as a version 1.0 C-order .npy file (F32, F64, F16, I32 or I64), atomically. */
    public static void write(Path path, Tensor t) throws IOException {
        String descr = switch (t.dtype()) {
            case F32 -> "<f4";
            case F64 -> "<f8";
            case F16 -> "<f2";
            case I32 -> "<i4";
            case I64 -> "<i8";
            case BF16 -> throw new IllegalArgumentException(".npy has no bfloat16 type; convert to f32 first");
        };
        long[] shape = t.shape();
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) sh.append(shape[i]).append(shape.length == 1 ? "," : (i + 1 < shape.length ? ", " : ""));
        sh.append(')');
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
        int total = 10 + dict.length() + 1;
        int pad = (64 - total % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer head = ByteBuffer.allocate(10 + header.length()).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length()).put(header.getBytes(StandardCharsets.ISO_8859_1));
        head.flip();
        long bytes = Math.multiplyExact(t.numel(), (long) t.dtype().byteSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(Math.max(bytes, 1), 8).asSlice(0, bytes);
            if (bytes > 0) t.copyTo(seg);
            AtomicFiles.write(path, List.of(head, seg.asByteBuffer()));
        }
    }

    private static IOException bad(Path path, String what) {
        return new IOException(".npy file " + path + ": " + what);
    }

    /** The Python literal subset .npy headers use: a dict of str keys to str, bool, int-tuple values. */
    private static final class PyLiteral {
        private final String s;
        private int pos;

        PyLiteral(String s) { this.s = s; }

        Map<String, Object> dict() {
            Map<String, Object> m = new LinkedHashMap<>();
            expect('{');
            while (true) {
                ws();
                if (peek() == '}') { pos++; break; }
                String k = str();
                ws();
                expect(':');
                ws();
                m.put(k, value());
                ws();
                if (peek() == ',') { pos++; continue; }
                expect('}');
                break;
            }
            ws();
            if (pos != s.length()) throw new IllegalArgumentException("unexpected text after the dict at " + pos);
            return m;
        }

        private Object value() {
            char c = peek();
            if (c == '\'' || c == '"') return str();
            if (c == '(') return tuple();
            if (s.startsWith("True", pos)) { pos += 4; return Boolean.TRUE; }
            if (s.startsWith("False", pos)) { pos += 5; return Boolean.FALSE; }
            throw new IllegalArgumentException("unexpected value at " + pos);
        }

        private long[] tuple() {
            expect('(');
            List<Long> dims = new ArrayList<>();
            while (true) {
                ws();
                if (peek() == ')') { pos++; break; }
                int st = pos;
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
                if (st == pos) throw new IllegalArgumentException("expected an integer at " + pos);
                dims.add(Long.parseLong(s.substring(st, pos)));
                // numpy may write 3L on Python 2
                if (pos < s.length() && s.charAt(pos) == 'L') pos++;
                ws();
                if (peek() == ',') { pos++; continue; }
                expect(')');
                break;
            }
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private String str() {
            char q = peek();
            if (q != '\'' && q != '"') throw new IllegalArgumentException("expected a string at " + pos);
            int end = s.indexOf(q, pos + 1);
            if (end < 0) throw new IllegalArgumentException("unterminated string at " + pos);
            String v = s.substring(pos + 1, end);
            pos = end + 1;
            return v;
        }

        private char peek() {
            if (pos >= s.length()) throw new IllegalArgumentException("unexpected end");
            return s.charAt(pos);
        }

        private void expect(char c) {
            if (peek() != c) throw new IllegalArgumentException("expected '" + c + "' at " + pos);
            pos++;
        }

        private void ws() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
        }
    }
}
