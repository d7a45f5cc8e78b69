package dev.ballast.train.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Headless Chromium for page tests: the binary from {@code BALLAST_CHROMIUM}, else {@code chromium},
 * {@code chromium-browser} or {@code google-chrome} on the PATH (Debian's {@code chromium} package; .ci/run installs
 * it where missing). Each call uses a fresh profile directory and no network services.
 */
final class Chromium {
    private Chromium() {}

    /** The browser to use, or empty when there is none. */
    static Optional<Path> find() {
        String env = System.getenv("BALLAST_CHROMIUM");
        if (env != null && !env.isBlank()) return Optional.of(Path.of(env)).filter(Files::isExecutable);
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
            for (String name : List.of("chromium", "chromium-browser", "google-chrome"))
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) return Optional.of(Path.of(dir, name));
        return Optional.empty();
    }

    /** Loads {@code page}, lets scripts run for up to {@code budgetMs} of virtual time and returns the DOM. */
    static String dumpDom(Path browser, Path page, Path profile, int budgetMs) throws IOException, InterruptedException {
        return run(browser, page, profile, budgetMs, List.of("--dump-dom"));
    }

    /** Writes a PNG screenshot of {@code page} at the window size given. */
    static void screenshot(Path browser, Path page, Path profile, int budgetMs, Path png, int width, int height)
            throws IOException, InterruptedException {
        run(browser, page, profile, budgetMs, List.of("--screenshot=" + png.toAbsolutePath(), "--window-size=" + width + "," + height,
                "--hide-scrollbars"));
        if (!Files.isRegularFile(png)) throw new IOException("chromium wrote no screenshot to " + png);
    }

    private static String run(Path browser, Path page, Path profile, int budgetMs, List<String> what) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(browser.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile.toAbsolutePath(), "--virtual-time-budget=" + budgetMs));
        cmd.addAll(what);
        cmd.add(page.toAbsolutePath().toUri().toString());
        Path log = Files.createTempFile("chromium", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("chromium did not finish in 180 s: " + cmd);
            }
            if (p.exitValue() != 0)
                throw new IOException("chromium exited with " + p.exitValue() + ": " + Files.readString(log));
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
