package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Holds random.cu's Philox code to the Java reference without a GPU: the generator functions are
 * {@code __host__ __device__}, so nvcc can build them into a host program that prints the stream.
 */
class PhiloxHostTest {
    @TempDir Path tmp;

    @Test
    void javaReferenceMatchesRandom123KnownAnswer() {
        // Random123's kat_vectors: philox4x32_10 with counter 0 and key 0.
        int[] c = {0, 0, 0, 0};
        PhiloxReference.philox(c, 0, 0);
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, c);
        // and counter all ones, key all ones
        int[] d = {-1, -1, -1, -1};
        PhiloxReference.philox(d, -1, -1);
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, d);
    }

    @Test
    void kernelSourceProducesTheReferenceStream() throws Exception {
        var nvcc = Nvcc.find();
        Assumptions.assumeTrue(nvcc.isPresent(), "nvcc not found: random.cu's host build not checked");
        Path src = Nvcc.stageSources(Files.createDirectories(tmp.resolve("src")));
        long[] seeds = {0L, 42L, 0x123456789abcdefL, -7L};
        StringBuilder main = new StringBuilder("#include <cstdio>\n#include \"random.cu\"\nint main() {\n");
        main.append("  unsigned long long seeds[] = {");
        for (long s : seeds) main.append(Long.toUnsignedString(s)).append("ULL,");
        main.append("};\n  for (int s = 0; s < ").append(seeds.length).append("; s++) for (unsigned long long g = 0; g < 37; g++) {\n")
            .append("    unsigned int x[4]; philox_block(g / 4, seeds[s], x); float u = philox_uniform(x[g % 4]);\n")
            .append("    unsigned int y[4]; philox_block(g / 2, seeds[s], y); float n = philox_normal(y[2 * (g % 2)], y[2 * (g % 2) + 1]);\n")
            .append("    printf(\"%a %a\\n\", (double)u, (double)n);\n  }\n  return 0;\n}\n");
        Files.writeString(src.resolve("harness.cu"), main);
        Path exe = tmp.resolve("harness");
        var build = Nvcc.run(src, List.of(nvcc.get().toString(), "-std=c++17", "-I", src.toString(), "-o", exe.toString(), "harness.cu"));
        Assumptions.assumeTrue(build.exit() == 0, "host build of random.cu failed (no host compiler?): " + build.output());
        var run = Nvcc.run(tmp, List.of(exe.toString()));
        assertEquals(0, run.exit(), run.output());
        String[] lines = run.output().strip().split("\n");
        assertEquals(seeds.length * 37, lines.length);
        int i = 0;
        for (long seed : seeds) for (long g = 0; g < 37; g++, i++) {
            String[] v = lines[i].split(" ");
            float u = (float) Double.parseDouble(v[0].trim()); // printf %a: Java reads hex floats
            float n = (float) Double.parseDouble(v[1].trim());
            assertEquals(PhiloxReference.uniform(seed, g), u, 0f, "uniform seed " + seed + " g " + g);
            // the host libm's log/cos may differ from Java's by an ulp of double, which rarely moves the float
            assertEquals(PhiloxReference.normal(seed, g), n, Math.ulp(n), "normal seed " + seed + " g " + g);
        }
    }
}
