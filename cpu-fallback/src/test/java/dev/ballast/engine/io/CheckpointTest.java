package dev.ballast.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.SGD;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints: everything restored, checksums checked, and nothing changed when a file or a model does not fit. */
class CheckpointTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    static Map<String, Tensor> model(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", Tensor.fromArray(CPU, DType.F32, SafeTensorsTest.random(r, 12, 1, false), 3, 4).requiresGrad(true));
        m.put("b", Tensor.fromArray(CPU, DType.F32, SafeTensorsTest.random(r, 4, 1, false), 4).requiresGrad(true));
        return m;
    }

    static AdamW trainedOptimizer(Map<String, Tensor> m, int steps) {
        List<Tensor> ps = List.copyOf(m.values());
        AdamW opt = new AdamW(ps, 0.01, 0.9, 0.99, 1e-8, 0.05);
        SplittableRandom r = new SplittableRandom(77);
        for (int s = 0; s < steps; s++) {
            for (Tensor p : ps) p.setGrad(Tensor.fromArray(CPU, DType.F32, SafeTensorsTest.random(r, (int) p.numel(), 1, false), p.shape()));
            opt.step();
        }
        return opt;
    }

    @Test
    void savesAndRestoresModelOptimizerStepAndGenerator() throws IOException {
        Map<String, Tensor> m = model(1);
        Generator gen = new Generator(1234);
        try (Tensor ignored = Tensor.rand(gen, CPU, 10); AdamW opt = trainedOptimizer(m, 3)) {
            opt.paramGroups().getFirst().setLr(0.005);
            Path p = dir.resolve("ckpt.safetensors");
            Checkpoint.save(p, m, opt, 42, gen);

            Map<String, Tensor> fresh = model(2);
            Generator gen2 = new Generator(1234);
            try (AdamW opt2 = new AdamW(List.copyOf(fresh.values()), 0.01, 0.9, 0.99, 1e-8, 0.05)) {
                Checkpoint.Info info = Checkpoint.load(p, fresh, opt2, gen2);
                assertEquals(42, info.step());
                assertEquals(gen.offset(), gen2.offset());
                assertEquals(1234L, info.generatorSeed());
                assertEquals(3, opt2.stepCount());
                assertEquals(0.005, opt2.paramGroups().getFirst().lr());
                for (String k : m.keySet()) assertArrayEquals(m.get(k).toFloatArray(), fresh.get(k).toFloatArray(), 0, k);
                var sd1 = opt.stateDict();
                var sd2 = opt2.stateDict();
                assertEquals(sd1.keySet(), sd2.keySet());
                for (String k : sd1.keySet()) assertArrayEquals(sd1.get(k).toDoubleArray(), sd2.get(k).toDoubleArray(), 0, k);
                assertEquals("AdamW", Checkpoint.inspect(p).optimizerHyperparameters().get("type"));
                assertEquals(gen.offset(), Checkpoint.inspect(p).generator().offset());
            }
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(1, s.count(), "no temporary file left behind");
            }
        }
    }

    void assertUnchanged(Map<String, Tensor> live, Map<String, float[]> before) {
        for (var e : live.entrySet()) assertArrayEquals(before.get(e.getKey()), e.getValue().toFloatArray(), 0, e.getKey());
    }

    static Map<String, float[]> snapshot(Map<String, Tensor> m) {
        Map<String, float[]> s = new LinkedHashMap<>();
        for (var e : m.entrySet()) s.put(e.getKey(), e.getValue().toFloatArray());
        return s;
    }

    @Test
    void flippedDataByteFailsTheChecksumAndLoadsNothing() throws IOException {
        Map<String, Tensor> m = model(3);
        Path p = dir.resolve("c.safetensors");
        try (AdamW opt = trainedOptimizer(m, 2)) {
            Checkpoint.save(p, m, opt, 2, null);
        }
        byte[] b = Files.readAllBytes(p);
        b[b.length - 5] ^= 0x10; // inside the data section
        Files.write(p, b);
        Map<String, Tensor> live = model(4);
        Map<String, float[]> before = snapshot(live);
        try (AdamW opt = new AdamW(List.copyOf(live.values()), 0.01, 0.9, 0.99, 1e-8, 0.05)) {
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(p, live, opt, null));
            assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains(p.toString()), e.getMessage());
            assertEquals(0, opt.stepCount());
        }
        assertUnchanged(live, before);
    }

    @Test
    void truncatedOrBadHeaderFilesFailClearly() throws IOException {
        Map<String, Tensor> m = model(5);
        Path p = dir.resolve("t.safetensors");
        Checkpoint.save(p, m, null, 0, null);
        byte[] b = Files.readAllBytes(p);
        Path t = dir.resolve("truncated.safetensors");
        Files.write(t, java.util.Arrays.copyOf(b, b.length - 10));
        Map<String, Tensor> live = model(6);
        Map<String, float[]> before = snapshot(live);
        // the whole-file checksum is checked before the header is parsed: every damage is named as such
        IOException e = assertThrows(IOException.class, () -> Checkpoint.load(t, live, null, null));
        assertTrue(e.getMessage().contains(t.toString()) && e.getMessage().contains("checksum mismatch"), e.getMessage());
        byte[] hdr = b.clone();
        ByteBuffer.wrap(hdr).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(t, hdr);
        e = assertThrows(IOException.class, () -> Checkpoint.load(t, live, null, null));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        byte[] json = b.clone();
        json[9] = '!'; // inside the JSON
        Files.write(t, json);
        e = assertThrows(IOException.class, () -> Checkpoint.load(t, live, null, null));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        assertUnchanged(live, before);
    }

    @Test
    void mismatchedModelOrOptimizerChangesNothing() throws IOException {
        Map<String, Tensor> m = model(7);
        Path p = dir.resolve("m.safetensors");
        try (AdamW opt = trainedOptimizer(m, 1)) {
            Checkpoint.save(p, m, opt, 1, new Generator(5));
        }
        // a model whose second tensor has another shape: the first tensor must not be overwritten either
        Map<String, Tensor> other = new LinkedHashMap<>();
        other.put("w", Tensor.zeros(CPU, DType.F32, 3, 4));
        other.put("b", Tensor.zeros(CPU, DType.F32, 5));
        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, other, null, null));
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("[5]"), e.getMessage());
        assertArrayEquals(new float[12], other.get("w").toFloatArray());

        Map<String, Tensor> missing = new LinkedHashMap<>();
        missing.put("w", Tensor.zeros(CPU, DType.F32, 3, 4));
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, missing, null, null));
        assertTrue(e.getMessage().contains("does not have"), e.getMessage());

        Map<String, Tensor> live = model(8);
        Map<String, float[]> before = snapshot(live);
        try (SGD sgd = new SGD(List.copyOf(live.values()), 0.1)) {
            e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, live, sgd, null));
            assertTrue(e.getMessage().contains("type"), e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, live, null, new Generator(6)));
        assertTrue(e.getMessage().contains("seed"), e.getMessage());
        assertUnchanged(live, before);
    }

    @Test
    void plainSafetensorsFileIsNotACheckpoint() throws IOException {
        Path p = dir.resolve("plain.safetensors");
        SafeTensors.write(p, Map.of("model.w", Tensor.zeros(CPU, DType.F32, 2)), Map.of());
        IOException e = assertThrows(IOException.class, () -> Checkpoint.inspect(p));
        assertTrue(e.getMessage().contains("not a Ballast checkpoint"), e.getMessage());
    }
}
