package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /** Every kernel name CudaBackend builds at run time, per file, spelled as it builds them. */
    static List<String> namesUsedByTheBackend(String file) {
        List<String> out = new ArrayList<>();
        String[] num = {"f32", "f64", "i32", "i64"}, all = {"f32", "f16", "bf16", "f64", "i32", "i64"};
        switch (file) {
            case "elementwise.cu" -> {
                for (String t : num) for (String k : new String[] {"unary_contig_", "unary_strided_", "binary_contig_", "binary_strided_",
                        "binary_scalar_contig_", "binary_scalar_strided_"}) out.add(k + t);
                for (String c : num) for (String t : num) out.add("where_" + c + "_" + t);
            }
            case "copy.cu" -> {
                for (String s : all) for (String d : all) out.add("cast_" + s + "_" + d);
                out.addAll(List.of("fill_b16", "fill_b32", "fill_b64"));
            }
            case "reduce.cu" -> {
                for (String t : num) for (String k : new String[] {"reduce_rows_", "reduce_cols_", "argreduce_rows_", "argreduce_cols_"}) out.add(k + t);
            }
            case "softmax.cu" -> out.addAll(List.of("softmax_f32", "softmax_f64"));
            case "index.cu" -> {
                for (String t : num) for (String k : new String[] {"index_select_", "index_add_", "gather_", "scatter_add_"}) out.add(k + t);
            }
            case "random.cu" -> out.addAll(List.of("uniform_f32", "uniform_f64", "normal_f32", "normal_f64"));
            case "multi_tensor.cu" -> out.addAll(List.of("multi_tensor_norm", "multi_tensor_norm_finish", "clip_coefficient",
                    "multi_tensor_scale", "fused_adam", "fused_sgd", "step_increment", "multi_tensor_stats",
                    "multi_tensor_stats_finish"));
            default -> throw new IllegalArgumentException(file);
        }
        return out;
    }

    @Test
    void everyKernelNameTheBackendUsesIsExported() throws Exception {
        var nvcc = Nvcc.find();
        Assumptions.assumeTrue(nvcc.isPresent(), "nvcc not found: kernel names not checked");
        Path src = Nvcc.stageSources(Files.createDirectories(tmp.resolve("ptx")));
        Pattern entry = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(");
        for (String f : KernelSources.FILES) {
            Path out = tmp.resolve(f + ".ptx");
            var r = Nvcc.run(src, List.of(nvcc.get().toString(), "-ptx", "-arch=sm_90", "-std=c++17", "-I", src.toString(),
                    "-o", out.toString(), src.resolve(f).toString()));
            assertEquals(0, r.exit(), r.output());
            Set<String> exported = new HashSet<>();
            Matcher m = entry.matcher(Files.readString(out));
            while (m.find()) exported.add(m.group(1));
            for (String name : namesUsedByTheBackend(f))
                assertTrue(exported.contains(name), f + " does not export extern \"C\" kernel " + name);
        }
    }
}
