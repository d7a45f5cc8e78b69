package dev.ballast.engine.io;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (padded with spaces so N is a multiple of 8, as the safetensors library writes it) mapping each tensor name to
 * {@code {"dtype", "shape", "data_offsets"}} plus an optional {@code "__metadata__"} string map, then the
 * little-endian data. Supported dtypes: F32, F16, BF16, F64, I32, I64; 0-d tensors have shape {@code []}.
 * Reading is strict, like the safetensors library: offsets must tile the data section exactly, and every problem is
 * reported as an IOException naming the file and what is wrong. Writes are atomic ({@link AtomicFiles}).
 */
public final class SafeTensors {
    /** The largest header accepted, as the safetensors library (100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private SafeTensors() {}

    /** A file's tensors (on the device asked for) and metadata; closing it closes the tensors. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) implements AutoCloseable {
        @Override
        public void close() { tensors.values().forEach(Tensor::close); }
    }

    /** One header entry: dtype, shape and byte range within the data section. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    /** The safetensors dtype name of a DType ("F32", "BF16", ...). */
    public static String dtypeName(DType t) { return t.name(); }

    /** The DType of a safetensors dtype name, or null when Ballast has no such type. */
    static DType dtypeOf(String name) {
        for (DType t : DType.values()) if (t.name().equals(name)) return t;
        return null;
    }

    // ------------------------------------------------------------------ writing

    /** Writes {@code tensors} and {@code metadata} (may be empty or null) to {@code path}, atomically. */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(path, tensors, metadata, new Options(null, false, null));
    }

    /**
     * How {@link #write(Path, Map, Map, Options)} writes: {@code checksumKey} (may be null) names a metadata entry
     * that receives the SHA-256 (hex) of the WHOLE file, computed with that entry's value set to 64 zeros (see
     * {@link #wholeFileSha256}); {@code requireFinite} refuses (a {@link NonFiniteTensorException}, nothing written)
     * when a floating tensor holds NaN or an infinity, checked on the host copy the write makes anyway;
     * {@code midWrite} (may be null) runs halfway through writing the temporary file (crash tests).
     */
    record Options(String checksumKey, boolean requireFinite, Runnable midWrite) {}

    /** Writes as {@link #write(Path, Map, Map)} with {@link Options}. */
    static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata, Options opts) throws IOException {
        checkLittleEndian();
        for (String name : tensors.keySet()) {
            if (name.equals("__metadata__")) throw new IllegalArgumentException("safetensors: '__metadata__' is reserved and cannot name a tensor");
        }
        // the safetensors library orders data by its Dtype enum, descending, then by name
        List<String> order = new ArrayList<>(tensors.keySet());
        order.sort(Comparator.<String>comparingInt(n -> -libraryRank(tensors.get(n).dtype())).thenComparing(Comparator.naturalOrder()));
        try (Arena arena = Arena.ofConfined()) {
            List<ByteBuffer> data = new ArrayList<>();
            Map<String, Object> header = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            if (metadata != null) meta.putAll(metadata);
            long offset = 0;
            Map<String, Object> entries = new LinkedHashMap<>();
            for (String name : order) {
                Tensor t = tensors.get(name);
                long bytes = Math.multiplyExact(t.numel(), (long) t.dtype().byteSize());
                if (bytes > Integer.MAX_VALUE - 8)
                    throw new IllegalArgumentException("safetensors: tensor '" + name + "' has " + bytes + " bytes; at most 2 GiB per tensor is supported");
                MemorySegment seg = arena.allocate(Math.max(bytes, 1), 8).asSlice(0, bytes);
                if (bytes > 0) t.copyTo(seg);
                if (opts.requireFinite()) {
                    long bad = NonFiniteTensorException.firstNonFinite(seg, t.dtype());
                    if (bad >= 0) throw new NonFiniteTensorException(path, name, t.shape(), bad, NonFiniteTensorException.valueAt(seg, t.dtype(), bad));
                }
                data.add(seg.asByteBuffer());
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("dtype", dtypeName(t.dtype()));
                e.put("shape", t.shape());
                e.put("data_offsets", new long[]{offset, offset + bytes});
                entries.put(name, e);
                offset += bytes;
            }
            if (opts.checksumKey() != null) meta.put(opts.checksumKey(), BLANK_SHA);
            if (!meta.isEmpty()) header.put("__metadata__", meta);
            header.putAll(entries);
            byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
            int padded = (json.length + 7) & ~7;
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();
            List<ByteBuffer> chunks = new ArrayList<>();
            chunks.add(head);
            chunks.addAll(data);
            if (opts.checksumKey() != null) {
                // the hash of the file with the field blank goes into the field: same length, so nothing moves
                int at = checksumField(head.array(), opts.checksumKey());
                byte[] hex = sha256(chunks).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(hex, 0, head.array(), at, hex.length);
            }
            AtomicFiles.write(path, chunks, opts.midWrite());
        }
    }

    /** The value written in place of the whole-file checksum while it is computed. */
    static final String BLANK_SHA = "0".repeat(64);

    /**
     * The byte position of the 64-character value of metadata entry {@code key} in a header (the 8 length bytes
     * included), or -1 when the header does not hold it exactly once in the compact form this class writes. A JSON
     * string cannot contain an unescaped quote, so the pattern cannot match inside another value.
     */
    static int checksumField(byte[] head, String key) {
        byte[] pat = ("\"" + key + "\":\"").getBytes(StandardCharsets.UTF_8);
        int found = -1;
        outer:
        for (int i = 8; i + pat.length + 65 <= head.length; i++) {
            for (int k = 0; k < pat.length; k++) if (head[i + k] != pat[k]) continue outer;
            if (head[i + pat.length + 64] != '"') continue;
            if (found >= 0) return -1;
            found = i + pat.length;
        }
        return found;
    }

    /** Position in the safetensors library's Dtype enum (F16 < BF16 < I32 < F32 < F64 < I64), which orders its data. */
    private static int libraryRank(DType t) {
        return switch (t) {
            case F16 -> 0;
            case BF16 -> 1;
            case I32 -> 2;
            case F32 -> 3;
            case F64 -> 4;
            case I64 -> 5;
        };
    }

    static String sha256(List<ByteBuffer> chunks) {
        MessageDigest md = newSha256();
        for (ByteBuffer b : chunks) md.update(b.duplicate());
        return HexFormat.of().formatHex(md.digest());
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    private static void checkLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new UnsupportedOperationException("safetensors I/O needs a little-endian host; this one is " + ByteOrder.nativeOrder());
    }

    /**
     * The whole-file checksum of {@code path} as {@link Options#checksumKey()} writes it: {stored, actual}, where
     * {@code actual} is the SHA-256 (hex) of every byte of the file with the 64-character value of metadata entry
     * {@code key} read as zeros. Null when the file's header region does not hold that entry exactly once (then it
     * was not written so, or the edit hit the entry itself). Reads only bytes, parses nothing, so it also judges a
     * file whose header an edit has made unreadable.
     */
    static String[] wholeFileSha256(Path path, String key) throws IOException {
        checkLittleEndian();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) return null;
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            Image.readFully(ch, lenBuf, 0, path);
            long n = lenBuf.flip().getLong();
            // the declared header, or where that length is damaged the first MiB: the entry is near the start
            long window = n > 0 && n <= MAX_HEADER_BYTES && 8 + n <= size ? 8 + n : Math.min(size, 1 << 20);
            ByteBuffer hb = ByteBuffer.allocate((int) window);
            Image.readFully(ch, hb, 0, path);
            byte[] head = hb.array();
            int at = checksumField(head, key);
            if (at < 0) return null;
            String stored = new String(head, at, 64, StandardCharsets.US_ASCII);
            System.arraycopy(BLANK_SHA.getBytes(StandardCharsets.US_ASCII), 0, head, at, 64);
            MessageDigest md = newSha256();
            md.update(head);
            ByteBuffer buf = ByteBuffer.allocate((int) Math.max(1, Math.min(1 << 20, size - window)));
            for (long pos = window; pos < size; ) {
                buf.clear();
                int r = ch.read(buf, pos);
                if (r < 0) break;
                md.update(buf.flip());
                pos += r;
            }
            return new String[]{stored, HexFormat.of().formatHex(md.digest())};
        }
    }

    // ------------------------------------------------------------------ reading

    /** Reads every tensor of {@code path} onto {@code device}, with the metadata. */
    public static Contents read(Path path, Device device) throws IOException {
        try (Image img = Image.open(path)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            try {
                for (String name : img.entries().keySet()) out.put(name, img.tensor(name, device));
            } catch (RuntimeException e) {
                out.values().forEach(Tensor::close);
                throw e;
            }
            return new Contents(out, img.metadata());
        }
    }

    /**
     * A safetensors file read fully into host memory and validated: its entries (in file order), its metadata and
     * its data section. Tensors are made from it on demand; closing frees the host memory.
     */
    public static final class Image implements AutoCloseable {
        private final Path path;
        private final Arena arena;
        private final MemorySegment data;
        private final Map<String, Entry> entries;
        private final Map<String, String> metadata;

        private Image(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries, Map<String, String> metadata) {
            this.path = path;
            this.arena = arena;
            this.data = data;
            this.entries = entries;
            this.metadata = metadata;
        }

        /** Reads and validates {@code path}; throws IOException naming the file and the problem. */
        public static Image open(Path path) throws IOException {
            checkLittleEndian();
            Arena arena = Arena.ofConfined();
            try {
                Image img = load(path, arena);
                arena = null; // owned by the image now
                return img;
            } finally {
                if (arena != null) arena.close();
            }
        }

        private static Image load(Path path, Arena arena) throws IOException {
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                if (size < 8) throw bad(path, "file is " + size + " bytes, too short to hold the 8-byte header length");
                ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, lenBuf, 0, path);
                long n = lenBuf.flip().getLong();
                if (n <= 0 || n > MAX_HEADER_BYTES)
                    throw bad(path, "bad header length " + n + " (must be between 1 and " + MAX_HEADER_BYTES + ")");
                if (8 + n > size)
                    throw bad(path, "header length " + n + " runs past the end of the file (" + size + " bytes): truncated or corrupt");
                ByteBuffer hb = ByteBuffer.allocate((int) n);
                readFully(ch, hb, 8, path);
                String json;
                try {
                    json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
                } catch (CharacterCodingException e) {
                    throw bad(path, "header is not valid UTF-8");
                }
                if (!json.startsWith("{")) throw bad(path, "header does not start with '{'");
                Map<String, Object> header;
                try {
                    header = Json.parseObject(json);
                } catch (IllegalArgumentException e) {
                    throw bad(path, "bad JSON header: " + e.getMessage());
                }
                long dataLen = size - 8 - n;
                Map<String, String> metadata = new LinkedHashMap<>();
                Map<String, Entry> entries = new LinkedHashMap<>();
                for (var e : header.entrySet()) {
                    if (e.getKey().equals("__metadata__")) metadata = parseMetadata(path, e.getValue());
                    else entries.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataLen));
                }
                checkTiling(path, entries, dataLen);
                MemorySegment data = arena.allocate(Math.max(dataLen, 1), 8).asSlice(0, dataLen);
                if (dataLen > 0) {
                    long pos = 8 + n;
                    long done = 0;
                    while (done < dataLen) {
                        long chunk = Math.min(dataLen - done, 1L << 30);
                        readFully(ch, data.asSlice(done, chunk).asByteBuffer(), pos + done, path);
                        done += chunk;
                    }
                }
                return new Image(path, arena, data, java.util.Collections.unmodifiableMap(entries),
                        java.util.Collections.unmodifiableMap(metadata));
            }
        }

        static void readFully(FileChannel ch, ByteBuffer b, long pos, Path path) throws IOException {
            while (b.hasRemaining()) {
                int r = ch.read(b, pos);
                if (r < 0) throw bad(path, "unexpected end of file at byte " + pos + ": truncated");
                pos += r;
            }
        }

        private static Map<String, String> parseMetadata(Path path, Object v) throws IOException {
            if (!(v instanceof Map<?, ?> m)) throw bad(path, "'__metadata__' must be an object of strings");
            Map<String, String> out = new LinkedHashMap<>();
            for (var e : m.entrySet()) {
                if (!(e.getValue() instanceof String s))
                    throw bad(path, "'__metadata__' value for '" + e.getKey() + "' must be a string, got " + e.getValue());
                out.put((String) e.getKey(), s);
            }
            return out;
        }

        private static Entry parseEntry(Path path, String name, Object v, long dataLen) throws IOException {
            if (!(v instanceof Map<?, ?> m)) throw bad(path, "tensor '" + name + "': entry must be an object");
            for (Object k : m.keySet()) {
                if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets"))
                    throw bad(path, "tensor '" + name + "': unexpected key '" + k + "' (allowed: dtype, shape, data_offsets)");
            }
            if (!(m.get("dtype") instanceof String dname)) throw bad(path, "tensor '" + name + "': missing or non-string 'dtype'");
            DType dt = dtypeOf(dname);
            if (dt == null) throw bad(path, "tensor '" + name + "': unknown dtype '" + dname + "' (supported: F32, F16, BF16, F64, I32, I64)");
            long[] shape = longs(path, name, "shape", m.get("shape"), -1);
            long[] off = longs(path, name, "data_offsets", m.get("data_offsets"), 2);
            long numel = 1;
            for (long d : shape) {
                if (d < 0) throw bad(path, "tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
                try {
                    numel = Math.multiplyExact(numel, d);
                } catch (ArithmeticException ex) {
                    throw bad(path, "tensor '" + name + "': shape " + Arrays.toString(shape) + " overflows");
                }
            }
            if (off[0] < 0 || off[1] < off[0] || off[1] > dataLen)
                throw bad(path, "tensor '" + name + "': data_offsets " + Arrays.toString(off) + " out of range (data section is "
                        + dataLen + " bytes)");
            long want;
            try {
                want = Math.multiplyExact(numel, dt.byteSize());
            } catch (ArithmeticException ex) {
                throw bad(path, "tensor '" + name + "': shape " + Arrays.toString(shape) + " overflows");
            }
            if (off[1] - off[0] != want)
                throw bad(path, "tensor '" + name + "': data_offsets " + Arrays.toString(off) + " hold " + (off[1] - off[0])
                        + " bytes but shape " + Arrays.toString(shape) + " " + dname + " needs " + want);
            return new Entry(name, dt, shape, off[0], off[1]);
        }

        private static long[] longs(Path path, String name, String key, Object v, int count) throws IOException {
            if (!(v instanceof List<?> list)) throw bad(path, "tensor '" + name + "': missing or non-list '" + key + "'");
            if (count >= 0 && list.size() != count)
                throw bad(path, "tensor '" + name + "': '" + key + "' must have " + count + " entries, has " + list.size());
            long[] out = new long[list.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(list.get(i) instanceof Long l)) throw bad(path, "tensor '" + name + "': '" + key + "' must hold integers, got " + list.get(i));
                out[i] = l;
            }
            return out;
        }

        /** Entries must cover the data section exactly, without gaps or overlaps (as the safetensors library checks). */
        private static void checkTiling(Path path, Map<String, Entry> entries, long dataLen) throws IOException {
            List<Entry> sorted = new ArrayList<>(entries.values());
            sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long at = 0;
            for (Entry e : sorted) {
                if (e.begin() != at)
                    throw bad(path, "tensor '" + e.name() + "': data_offsets start at " + e.begin() + " but the previous tensor ends at "
                            + at + " (overlap or gap)");
                at = e.end();
            }
            if (at != dataLen)
                throw bad(path, "tensors cover " + at + " bytes but the data section holds " + dataLen + " (trailing bytes or truncation)");
        }

        static IOException bad(Path path, String what) {
            return new IOException("safetensors file " + path + ": " + what);
        }

        public Path path() { return path; }

        /** Entries by name, in header order. */
        public Map<String, Entry> entries() { return entries; }

        public Map<String, String> metadata() { return metadata; }

        /** The data section (read-only use; valid until close). */
        public MemorySegment data() { return data; }

        /** SHA-256 (hex) of the data section. */
        public String dataSha256() {
            MessageDigest md = newSha256();
            long done = 0, len = data.byteSize();
            while (done < len) {
                long chunk = Math.min(len - done, 1L << 30);
                md.update(data.asSlice(done, chunk).asByteBuffer());
                done += chunk;
            }
            return HexFormat.of().formatHex(md.digest());
        }

        /** A new tensor on {@code device} holding entry {@code name}. */
        public Tensor tensor(String name, Device device) {
            Entry e = entries.get(name);
            if (e == null) throw new IllegalArgumentException("safetensors file " + path + " has no tensor '" + name + "'");
            if (e.numel() == 0) return Tensor.empty(device, e.dtype(), e.shape());
            return Tensor.upload(device, data.asSlice(e.begin(), e.end() - e.begin()), e.dtype(), e.dtype(), e.shape());
        }

        @Override
        public void close() { arena.close(); }
    }
}
