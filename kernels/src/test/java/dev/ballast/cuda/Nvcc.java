package dev.ballast.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Test helper: finds nvcc and runs it, for the CPU-only checks of the kernel sources. */
final class Nvcc {
    private Nvcc() {}

    /** nvcc from PATH, then {@code /usr/local/cuda/bin}; empty when there is none. */
    static Optional<Path> find() {
        String path = System.getenv("PATH");
        if (path != null) for (String d : path.split(":")) {
            Path p = Path.of(d, "nvcc");
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        Path p = Path.of("/usr/local/cuda/bin/nvcc");
        return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }

    /** Copies every kernel resource (sources and headers) into a folder, as NVRTC would see them. */
    static Path stageSources(Path dir) throws IOException {
        for (String f : KernelSources.FILES) Files.writeString(dir.resolve(f), KernelSources.read(f));
        for (String h : KernelSources.HEADERS) Files.writeString(dir.resolve(h), KernelSources.read(h));
        return dir;
    }

    record Result(int exit, String output) {}

    static Result run(Path workDir, List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(-1, "timed out: " + command);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
