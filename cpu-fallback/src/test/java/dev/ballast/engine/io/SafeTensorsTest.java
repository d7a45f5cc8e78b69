package dev.ballast.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** safetensors: round trips, interop with the Python library's output, and clear errors for bad files. */
class SafeTensorsTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    static double[] random(SplittableRandom r, int n, double scale, boolean integral) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = integral ? r.nextInt(-1000, 1000) : (r.nextDouble() * 2 - 1) * scale;
        return v;
    }

    @Test
    void roundTripsEveryDtypeIncludingZeroDimAndMetadata() throws IOException {
        SplittableRandom r = new SplittableRandom(42);
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (DType t : DType.values()) {
            in.put("m_" + t.label(), Tensor.fromArray(CPU, t, random(r, 6, 3, !t.isFloating()), 2, 3));
            in.put("s_" + t.label(), Tensor.fromArray(CPU, t, random(r, 1, 3, !t.isFloating())));
        }
        in.put("empty", Tensor.zeros(CPU, DType.F32, 0, 4));
        Map<String, String> meta = Map.of("format", "pt", "note", "ünïcode \"quoted\"");
        Path p = dir.resolve("all.safetensors");
        SafeTensors.write(p, in, meta);

        byte[] bytes = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        String json = header.stripTrailing();
        assertTrue(json.endsWith("}") && header.substring(json.length()).chars().allMatch(ch -> ch == ' '), "padding is spaces: " + header);

        try (SafeTensors.Contents c = SafeTensors.read(p, CPU)) {
            assertEquals(meta, c.metadata());
            assertEquals(in.keySet(), c.tensors().keySet());
            for (var e : in.entrySet()) {
                Tensor got = c.tensors().get(e.getKey());
                assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                assertArrayEquals(e.getValue().toDoubleArray(), got.toDoubleArray(), 0, e.getKey());
            }
            assertEquals(0, c.tensors().get("s_f32").rank());
        }
    }

    @Test
    void readsTheSafetensorsLibrarysFile() throws IOException {
        Path p = resource("interop.safetensors");
        Map<String, Object> expected = Json.parseObject(new String(Files.readAllBytes(resource("interop_values.json")), StandardCharsets.UTF_8));
        try (SafeTensors.Contents c = SafeTensors.read(p, CPU)) {
            assertEquals(Map.of("format", "pt", "note", "reference"), c.metadata());
            assertEquals(expected.keySet(), c.tensors().keySet());
            assertEquals(DType.F32, c.tensors().get("w_f32").dtype());
            assertArrayEquals(new long[]{3, 4}, c.tensors().get("w_f32").shape());
            assertEquals(DType.F16, c.tensors().get("b_f16").dtype());
            assertEquals(DType.BF16, c.tensors().get("e_bf16").dtype());
            assertArrayEquals(new long[]{2, 2}, c.tensors().get("e_bf16").shape());
            assertEquals(DType.I64, c.tensors().get("i_i64").dtype());
            assertEquals(0, c.tensors().get("s_f32").rank());
            for (var e : expected.entrySet()) {
                double[] want = ((List<?>) e.getValue()).stream().mapToDouble(o -> ((Number) o).doubleValue()).toArray();
                assertArrayEquals(want, c.tensors().get(e.getKey()).toDoubleArray(), 0, e.getKey());
            }
        }
        // our writer reproduces the library's layout byte for byte (same order, offsets and padding)
        Path again = dir.resolve("again.safetensors");
        try (SafeTensors.Contents c = SafeTensors.read(p, CPU)) {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("note", "reference");
            SafeTensors.write(again, c.tensors(), meta);
        }
        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(again));
    }

    static Path resource(String name) throws IOException {
        try (InputStream in = SafeTensorsTest.class.getResourceAsStream("/reference/" + name)) {
            if (in == null) throw new IOException("missing test resource /reference/" + name);
            Path tmp = Files.createTempFile("ref-", "-" + name);
            Files.write(tmp, in.readAllBytes());
            tmp.toFile().deleteOnExit();
            return tmp;
        }
    }

    Path sample() throws IOException {
        Path p = dir.resolve("sample.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a", Tensor.fromArray(CPU, DType.F32, random(new SplittableRandom(1), 8, 1, false), 2, 4));
        m.put("b", Tensor.fromArray(CPU, DType.I64, new double[]{1, 2, 3}, 3));
        SafeTensors.write(p, m, Map.of());
        return p;
    }

    static byte[] withHeader(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    void assertBad(byte[] content, String expectedFragment) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, content);
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(p, CPU));
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expectedFragment), "says '" + expectedFragment + "': " + e.getMessage());
    }

    @Test
    void truncatedAndCorruptFilesGiveClearErrors() throws IOException {
        byte[] good = Files.readAllBytes(sample());
        assertBad(new byte[5], "too short");
        assertBad(java.util.Arrays.copyOf(good, 20), "runs past the end");
        assertBad(java.util.Arrays.copyOf(good, good.length - 3), "data section");
        byte[] huge = good.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -7);
        assertBad(huge, "bad header length");
        assertBad(withHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]", new byte[4]), "bad JSON");
        assertBad(withHeader("{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]}}", new byte[4]), "unknown dtype 'U8'");
        assertBad(withHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 16]}}", new byte[8]), "out of range");
        assertBad(withHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", new byte[8]), "needs 12");
        assertBad(withHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                + "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", new byte[8]), "overlap or gap");
        assertBad(withHeader("{\"__metadata__\": {\"k\": 1}}", new byte[0]), "must be a string");
        assertBad(withHeader("[1]", new byte[0]), "does not start with '{'");
    }

    @Test
    void atomicWriteLeavesNoTemporaryFileAndReplacesTheOld() throws IOException {
        Path p = sample();
        sample(); // overwrite
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(p.getFileName().toString()), s.map(x -> x.getFileName().toString()).toList());
        }
        // a write that fails at the rename (the target is a non-empty directory) removes its temporary file
        Path blocked = dir.resolve("blocked.safetensors");
        Files.createDirectories(blocked.resolve("inner"));
        Map<String, Tensor> one = Map.of("x", Tensor.zeros(CPU, DType.F32, 1));
        assertThrows(IOException.class, () -> SafeTensors.write(blocked, one, null));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("blocked.safetensors", p.getFileName().toString()),
                    s.map(x -> x.getFileName().toString()).sorted().toList());
        }
    }
}
