package dev.ballast.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints that cannot lie and never go backwards: the whole file is under the checksum (every single-byte edit
 * is caught, header and offsets included) while the file stays readable by the safetensors library; a non-finite
 * tensor is never saved; rotation keeps the newest K step files behind a pointer and removes stale temporaries.
 */
class CheckpointSafetyTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    /** Two same-shape tensors (so swapped offsets would still parse) and an optimizer that has stepped. */
    static Map<String, Tensor> model() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a", Tensor.fromArray(CPU, DType.F32, new double[]{0.5, -1.25, 2, 3.5}, 4).requiresGrad(true));
        m.put("b", Tensor.fromArray(CPU, DType.F32, new double[]{-7, 0.125, 9, 1e-3}, 4).requiresGrad(true));
        return m;
    }

    Path saved(Map<String, Tensor> m, long step) throws IOException {
        Path p = dir.resolve("c.safetensors");
        try (AdamW opt = new AdamW(List.copyOf(m.values()), 1e-3)) {
            for (Tensor t : m.values()) t.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{1, -2, 3, -4}, 4));
            opt.step();
            Checkpoint.save(p, m, opt, step, new Generator(9));
        }
        return p;
    }

    @Test
    void everySingleByteEditFailsTheWholeFileChecksum() throws IOException {
        Path p = saved(model(), 20);
        byte[] good = Files.readAllBytes(p);
        assertEquals(20, Checkpoint.inspect(p).step());
        Path bad = dir.resolve("edited.safetensors");
        for (int i = 0; i < good.length; i++) {
            for (int flip : new int[]{i % 2 == 0 ? 0x01 : 0x80}) {
                byte[] b = good.clone();
                b[i] ^= (byte) flip;
                Files.write(bad, b);
                int at = i;
                IOException e = assertThrows(IOException.class, () -> Checkpoint.inspect(bad), () -> "byte " + at + " edited loads");
                assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("checksum"), "byte " + i + ": " + e.getMessage());
            }
        }
        System.out.println("every byte of a " + good.length + "-byte checkpoint edited (low or high bit flipped): all rejected");
    }

    @Test
    void headerEditsThatStillParseAreCaught() throws IOException {
        Path p = saved(model(), 20);
        String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
        // the step, the generator offset, the learning rate, and two same-shape tensors' offsets swapped
        List<String[]> edits = List.of(new String[]{"\"ballast.step\":\"20\"", "\"ballast.step\":\"90\""},
                new String[]{"\"ballast.generator.seed\":\"9\"", "\"ballast.generator.seed\":\"8\""},
                new String[]{"group.0.lr\\\":\\\"0.001", "group.0.lr\\\":\\\"0.009"},
                new String[]{"\"model.a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[", "\"model.b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":["});
        for (String[] e : edits) {
            assertTrue(text.contains(e[0]), "the header holds " + e[0] + ":\n" + text.substring(0, 600));
            String edited = e[0].contains("model.a") ? swapNames(text) : text.replace(e[0], e[1]);
            assertEquals(text.length(), edited.length());
            Path bad = dir.resolve("edited.safetensors");
            Files.write(bad, edited.getBytes(StandardCharsets.ISO_8859_1));
            IOException ex = assertThrows(IOException.class, () -> Checkpoint.inspect(bad), e[1]);
            assertTrue(ex.getMessage().contains("checksum mismatch"), ex.getMessage());
        }
    }

    /** Swaps the names "model.a" and "model.b" in the header: each name then points at the other's data. */
    static String swapNames(String text) {
        return text.replace("\"model.a\":", "\"model.X\":").replace("\"model.b\":", "\"model.a\":").replace("\"model.X\":", "\"model.b\":");
    }

    @Test
    void theSafetensorsLibraryReadsACheckpoint() throws Exception {
        Path pydeps = Path.of("/root/.cache/ballast/pydeps");
        Assumptions.assumeTrue(Files.isDirectory(pydeps.resolve("safetensors")),
                "the python safetensors package is not installed at " + pydeps + " (it is on the development machine only)");
        Map<String, Tensor> m = model();
        Path p = saved(m, 7);
        String script = "import sys, json\nfrom safetensors import safe_open\n"
                + "with safe_open(sys.argv[1], 'np') as f:\n"
                + "    out = {k: [float(x) for x in f.get_tensor(k).ravel()] for k in f.keys() if k.startswith('model.')}\n"
                + "    out['step'] = f.metadata()['ballast.step']\n"
                + "print(json.dumps(out))\n";
        ProcessBuilder pb = new ProcessBuilder("python3", "-c", script, p.toString()).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", pydeps.toString());
        Process proc = pb.start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), out);
        Map<String, Object> got = Json.parseObject(out.strip());
        assertEquals("7", got.get("step"));
        for (var e : m.entrySet()) {
            float[] want = e.getValue().toFloatArray();
            List<?> vals = (List<?>) got.get("model." + e.getKey());
            for (int i = 0; i < want.length; i++) assertEquals(want[i], ((Number) vals.get(i)).floatValue(), 0f, e.getKey());
        }
    }

    @Test
    void aNonFiniteTensorIsNeverSavedAndThePreviousFileIsKept() throws IOException {
        Map<String, Tensor> m = model();
        Path p = saved(m, 3);
        byte[] before = Files.readAllBytes(p);
        for (double bad : new double[]{Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            m.put("b", Tensor.fromArray(CPU, DType.F32, new double[]{1, 2, bad, 4}, 4));
            NonFiniteTensorException e = assertThrows(NonFiniteTensorException.class, () -> Checkpoint.save(p, m, null, 4, null));
            assertEquals("model.b", e.tensor());
            assertEquals(2, e.index());
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("not written"), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(p));
        }
        // every floating dtype is checked; integers are not (they cannot be non-finite)
        for (DType t : new DType[]{DType.F16, DType.BF16, DType.F64}) {
            Map<String, Tensor> one = Map.of("x", Tensor.fromArray(CPU, t, new double[]{0, Double.NaN}, 2));
            NonFiniteTensorException e = assertThrows(NonFiniteTensorException.class,
                    () -> SafeTensors.write(dir.resolve("x.safetensors"), one, null, new SafeTensors.Options(null, true, null)));
            assertEquals(1, e.index(), t.toString());
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("c.safetensors"), s.map(x -> x.getFileName().toString()).toList(), "no temporary file is left");
        }
    }

    @Test
    void rotationKeepsTheNewestStepFilesBehindThePointer() throws IOException {
        Map<String, Tensor> m = model();
        CheckpointFiles files = new CheckpointFiles(dir.resolve("run.safetensors"), 2);
        assertFalse(files.exists());
        for (long step = 10; step <= 50; step += 10) files.save(m, null, step, null, Map.of(), Map.of("k", "v" + step));
        assertEquals(List.of(40L, 50L), List.copyOf(files.stepFiles().keySet()));
        assertEquals(50, Checkpoint.inspect(files.pointer()).step());
        assertEquals("v50", Checkpoint.inspect(files.pointer()).metadata().get("k"));
        assertEquals(files.pointer(), files.latest().orElseThrow());
        // a run started afresh over this one: its first good save removes the abandoned run's later files
        files.save(m, null, 20, null, Map.of(), Map.of());
        assertEquals(List.of(20L), List.copyOf(files.stepFiles().keySet()));
        assertEquals(20, Checkpoint.inspect(files.pointer()).step());
        // a refused save changes nothing
        Map<String, Tensor> bad = new LinkedHashMap<>(m);
        bad.put("b", Tensor.fromArray(CPU, DType.F32, new double[]{Double.NaN, 0, 0, 0}, 4));
        assertThrows(NonFiniteTensorException.class, () -> files.save(bad, null, 30, null, Map.of(), Map.of()));
        assertEquals(List.of(20L), List.copyOf(files.stepFiles().keySet()));
        assertEquals(20, Checkpoint.inspect(files.pointer()).step());
        // without the pointer (a kill before the first one was made) the newest step file is the one to resume
        Files.delete(files.pointer());
        assertEquals(files.stepFile(20), files.latest().orElseThrow());
    }

    @Test
    void staleTemporariesOfKilledSavesAreRemovedAtTheNextSave() throws Exception {
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        long me = ProcessHandle.current().pid();
        List<String> stale = List.of(".c.safetensors." + dead.pid() + "-123.tmp", ".c.step-00000003.safetensors." + dead.pid() + "-9.tmp",
                ".c.safetensors.4242424242.tmp" /* an earlier build's name, without a pid */);
        List<String> kept = List.of(".c.safetensors." + me + "-77.tmp" /* a live writer's */, ".other.safetensors." + dead.pid() + "-1.tmp",
                "c.safetensors.notes.tmp");
        for (String n : stale) Files.write(dir.resolve(n), new byte[10]);
        for (String n : kept) Files.write(dir.resolve(n), new byte[10]);
        new CheckpointFiles(dir.resolve("c.safetensors"), 1).save(model(), null, 5, null, Map.of(), Map.of());
        for (String n : stale) assertFalse(Files.exists(dir.resolve(n)), n);
        for (String n : kept) assertTrue(Files.exists(dir.resolve(n)), n);
    }

    @Test
    void unwritableCheckpointPathsAreFoundBeforeTraining() throws IOException {
        Path file = Files.write(dir.resolve("plain-file"), new byte[1]);
        IOException e = assertThrows(IOException.class, () -> new CheckpointFiles(file.resolve("sub/c.safetensors"), 1).checkWritable());
        assertTrue(e.getMessage().contains(file + " is a file"), e.getMessage());
        Files.createDirectories(dir.resolve("d.safetensors"));
        e = assertThrows(IOException.class, () -> new CheckpointFiles(dir.resolve("d.safetensors"), 1).checkWritable());
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        new CheckpointFiles(dir.resolve("new/dir/c.safetensors"), 1).checkWritable();
        try (Stream<Path> s = Files.list(dir.resolve("new/dir"))) {
            assertEquals(0, s.count(), "the probe leaves nothing behind");
        }
    }
}
