package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Replays the PyTorch reference cases through the CLI on the CPU, and its usage errors. */
class VerifyReferenceCommandTest {

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.newCommandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test void pytorchCasesPassOnTheCpu() throws Exception {
        Path cases = Path.of(getClass().getResource("/reference/pytorch-clip-scaler-cases.json").toURI());
        Run r = run("verify-reference", cases.toString(), "--device", "cpu");
        String[] lines = r.out().strip().split("\n");
        assertEquals("11 passed, 0 failed, 0 skipped", lines[lines.length - 1], r.out() + r.err());
        assertEquals(0, r.code());
    }

    @Test void chainCasesPassOnEveryAvailableDevice() throws Exception {
        Path cases = Path.of(getClass().getResource("/reference/pytorch-chain-cases.json").toURI());
        Run r = run("verify-reference", cases.toString(), "--device", "all");
        String[] lines = r.out().strip().split("\n");
        int devices = (int) dev.ballast.engine.Device.statuses().stream().filter(dev.ballast.engine.Device.Status::available).count();
        assertEquals(10 * devices + " passed, 0 failed, 0 skipped", lines[lines.length - 1], r.out() + r.err());
        assertTrue(r.out().contains("chain-7-0 "), "one line per case, named by the case's name: " + r.out());
        assertEquals(0, r.code());
    }

    @Test void aChainCaseWithAWrongSkipFails(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("chain.json");
        Files.writeString(f, "{\"tolerance\": {\"abs\": 1e-6, \"rel\": 1e-5}, \"made_by\": \"hand\", \"chain\": [{\"name\": \"c\", "
                + "\"shapes\": [[2]], \"params\": [[1, 1]], \"transforms\": [{\"op\": \"skip_nonfinite\"}], "
                + "\"optimizer\": {\"type\": \"sgd\", \"lr\": 1, \"momentum\": 0, \"weight_decay\": 0}, "
                + "\"steps\": [{\"grads\": [[\"nan\", 0]], \"skipped\": false, \"params_after\": [[1, 1]]}]}]}");
        Run r = run("verify-reference", f.toString(), "--device", "cpu");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("skipped=true, PyTorch skipped=false"), r.out());
    }

    @Test void aWrongExpectationFails(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "{\"clip_value\": [{\"shapes\": [[2]], \"clip_value\": 0.5, \"grads\": [[1.0, -0.2]], \"clipped\": [[0.4, -0.2]]}]}");
        Run r = run("verify-reference", f.toString(), "--device", "cpu");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("0 passed, 1 failed, 0 skipped"), r.out());
        assertTrue(r.out().contains("expected 0.4"), r.out());
    }

    @Test void unreadableFileIsAUsageError(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("broken.json");
        Files.writeString(f, "{ not json");
        assertEquals(2, run("verify-reference", f.toString()).code());
        assertEquals(2, run("verify-reference", dir.resolve("missing.json").toString()).code());
        assertEquals(2, run("verify-reference", f.toString(), "--device", "tpu").code());
    }

    @Test void hysteresisTrajectoriesPassOnEveryDevice() throws Exception {
        Path cases = Path.of(getClass().getResource("/reference/hysteresis-cases.json").toURI());
        Run r = run("verify-reference", cases.toString(), "--device", "all");
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("\\d+ passed, 0 failed, 0 skipped"), r.out() + r.err());
        assertTrue(Integer.parseInt(lines[lines.length - 1].split(" ")[0]) >= 12, r.out());
        assertEquals(0, r.code());
    }
}
