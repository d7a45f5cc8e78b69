package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Checks that an inline PyTorch script at least parses, with python3's {@code ast} (skipped without python3). */
final class PythonSyntax {
    private PythonSyntax() {}

    static void assertParses(String script) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("python3", "-c", "import ast, sys; ast.parse(sys.stdin.read())")
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "python3 not available: " + e.getMessage());
            return;
        }
        try (OutputStream in = p.getOutputStream()) {
            in.write(script.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
    }
}
