package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles every kernel source with nvcc for sm_90, the way NVRTC will see it (the shared header
 * beside it, cuda_fp16/cuda_bf16 from the toolkit). Runs on CPU-only CI wherever nvcc is installed;
 * skipped with a reason otherwise.
 */
class KernelSourcesNvccTest {
    @TempDir Path tmp;

    @TestFactory
    Stream<DynamicTest> everyKernelSourceCompiles() throws Exception {
        var nvcc = Nvcc.find();
        Assumptions.assumeTrue(nvcc.isPresent(), "nvcc not found on PATH or in /usr/local/cuda/bin: kernel sources not compiled");
        Path src = Nvcc.stageSources(Files.createDirectories(tmp.resolve("src")));
        return KernelSources.FILES.stream().map(f -> DynamicTest.dynamicTest(f, () -> {
            Path out = tmp.resolve(f + ".cubin");
            var r = Nvcc.run(src, List.of(nvcc.get().toString(), "-cubin", "-arch=sm_90", "-std=c++17", "-I", src.toString(),
                    "-o", out.toString(), src.resolve(f).toString()));
            assertEquals(0, r.exit(), "nvcc failed on " + f + ":\n" + r.output());
            assertTrue(Files.size(out) > 0, "empty cubin for " + f);
        }));
    }
}
