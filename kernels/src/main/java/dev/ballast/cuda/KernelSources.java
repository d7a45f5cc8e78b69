package dev.ballast.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The CUDA C sources shipped as resources under {@code dev/ballast/cuda/kernels/}: every {@code .cu}
 * file, and the in-memory headers they include ({@code common.cuh}). {@code cuda_fp16.h} and
 * {@code cuda_bf16.h} come from NVRTC's include path.
 */
public final class KernelSources {
    private KernelSources() {}

    /** Resource folder of the kernels. */
    public static final String DIR = "dev/ballast/cuda/kernels/";

    /** Every kernel source file, one module each. */
    public static final List<String> FILES = List.of(
            "elementwise.cu", "copy.cu", "reduce.cu", "softmax.cu", "index.cu", "random.cu", "multi_tensor.cu");

    /** Headers handed to NVRTC by include name. */
    public static final List<String> HEADERS = List.of("common.cuh");

    /** The text of one kernel resource; fails naming the file when it is missing. */
    public static String read(String file) {
        try (InputStream in = KernelSources.class.getClassLoader().getResourceAsStream(DIR + file)) {
            if (in == null) throw new IllegalArgumentException("kernel source " + DIR + file + " is not on the class path");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel source " + file, e);
        }
    }

    /** Include name to text, for every shared header. */
    public static Map<String, String> headers() {
        java.util.LinkedHashMap<String, String> m = new java.util.LinkedHashMap<>();
        for (String h : HEADERS) m.put(h, read(h));
        return m;
    }
}
