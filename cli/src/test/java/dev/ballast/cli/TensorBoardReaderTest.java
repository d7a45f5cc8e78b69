package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ballast train --tensorboard DIR} read back by TensorBoard's own EventAccumulator (python3 with the
 * {@code tensorboard} package on PYTHONPATH); skipped with the reason where that is not installed.
 */
class TensorBoardReaderTest {
    @TempDir Path dir;

    private static final String READER = """
            import sys, json
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'histograms': 0})
            acc.Reload()
            tags = acc.Tags()
            out = {'scalars': sorted(tags['scalars']), 'histograms': sorted(tags['histograms']),
                   'loss_steps': [e.step for e in acc.Scalars('train/loss')],
                   'loss_last': acc.Scalars('train/loss')[-1].value,
                   'hist_num': acc.Histograms(sorted(tags['histograms'])[0])[-1].histogram_value.num}
            print(json.dumps(out))
            """;

    private static String python(String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) p.destroyForcibly();
        return p.exitValue() == 0 ? out : null;
    }

    /** Skips the test, saying why, where no python3 imports the tensorboard package. */
    private static void assumeTensorBoard() throws InterruptedException {
        String probe;
        try {
            probe = python("python3", "-c", "import tensorboard; print(tensorboard.__version__)");
        } catch (IOException e) {
            probe = null;
        }
        Assumptions.assumeTrue(probe != null, "python3 with the tensorboard package is not available (set PYTHONPATH to where it is installed)");
    }

    @Test void eventAccumulatorFindsTheScalarsAndHistograms() throws Exception {
        assumeTensorBoard();
        Path tb = dir.resolve("tb");
        Run r = Run.of("train", "--task", "spirals", "--steps", "30", "--depth", "2", "--width", "16", "--train-size", "256",
                "--test-size", "64", "--batch", "32", "--log-every", "10", "--device", "cpu", "--tensorboard", tb.toString());
        assertEquals(0, r.exitCode(), r.err());
        String out = python("python3", "-c", READER, tb.toString());
        assertTrue(out != null, "EventAccumulator failed to read " + tb);
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.lines().reduce((a, b) -> b).orElseThrow());
        String scalars = json.get("scalars").toString(), hists = json.get("histograms").toString();
        for (String tag : new String[] {"train/loss", "train/lr", "grad/global_norm", "grad/norm/body.0.weight", "grad/norm/head.bias"})
            assertTrue(scalars.contains("\"" + tag + "\""), tag + " in " + scalars);
        for (String tag : new String[] {"grad/body.0.weight", "grad/head.weight"})
            assertTrue(hists.contains("\"" + tag + "\""), tag + " in " + hists);
        assertEquals("[10,20,30]", json.get("loss_steps").toString());
        assertTrue(json.get("loss_last").asDouble() > 0);
        assertTrue(json.get("hist_num").asDouble() > 0);
    }

    @Test void fp16RunsLogTheLossScale() throws Exception {
        assumeTensorBoard();
        Path tb = dir.resolve("tb16");
        Run r = Run.of("train", "--task", "spirals", "--steps", "20", "--depth", "2", "--width", "16", "--train-size", "256",
                "--test-size", "64", "--batch", "32", "--log-every", "10", "--device", "cpu", "--precision", "fp16",
                "--tensorboard", tb.toString());
        assertEquals(0, r.exitCode(), r.err());
        String out = python("python3", "-c", """
                import sys, json
                from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
                acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})
                acc.Reload()
                print(json.dumps([[e.step, e.value] for e in acc.Scalars('amp/loss_scale')]))
                """, tb.toString());
        assertTrue(out != null, "EventAccumulator found no amp/loss_scale in " + tb);
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.lines().reduce((a, b) -> b).orElseThrow());
        assertEquals(2, json.size(), json.toString());
        for (var e : json) {
            double scale = e.get(1).asDouble();
            assertTrue(scale > 0 && scale <= 65536 && Math.getExponent(scale) == Math.log(scale) / Math.log(2), json.toString());
        }
        assertEquals(10, json.get(0).get(0).asInt());
    }
}
