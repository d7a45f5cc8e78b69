package dev.ballast.bench;

import java.util.Arrays;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * PLACEHOLDER written on the cli branch so that {@code ballast bench cpu-matmul} compiles; the
 * benchmarks branch's real driver (CPU backend matmul against NumPy, side by side) replaces this file
 * at merge. Only {@link Result} is real here; {@link #run} refuses to produce numbers.
 */
public final class CpuMatmulBench {

    private CpuMatmulBench() {}

    /**
     * Square f32 matmul throughput per size: Ballast's CPU backend and, where NumPy could be run,
     * NumPy's ({@code null} entries where it could not).
     */
    public record Result(int[] sizes, double[] ballastGflops, Double[] numpyGflops) {

        public Result {
            if (sizes.length != ballastGflops.length || sizes.length != numpyGflops.length)
                throw new IllegalArgumentException("sizes, ballastGflops and numpyGflops differ in length: "
                        + sizes.length + ", " + ballastGflops.length + ", " + numpyGflops.length);
        }

        /** Ballast GFLOP/s over NumPy GFLOP/s at index {@code i}; NaN where NumPy has no number. */
        public double ratio(int i) {
            Double numpy = numpyGflops[i];
            return numpy == null ? Double.NaN : ballastGflops[i] / numpy;
        }

        /** {"sizes":[...],"ballast_gflops":[...],"numpy_gflops":[...],"ratio":[...]}, with null for missing numbers. */
        public String toJson() {
            return "{\"sizes\":" + Arrays.toString(sizes).replace(" ", "")
                    + ",\"ballast_gflops\":" + list(IntStream.range(0, sizes.length).mapToObj(i -> json(ballastGflops[i])))
                    + ",\"numpy_gflops\":" + list(Arrays.stream(numpyGflops).map(v -> v == null ? "null" : json(v)))
                    + ",\"ratio\":" + list(IntStream.range(0, sizes.length).mapToObj(i -> json(ratio(i)))) + "}";
        }

        private static String list(java.util.stream.Stream<String> items) {
            return items.collect(Collectors.joining(",", "[", "]"));
        }

        private static String json(double v) {
            return Double.isFinite(v) ? Double.toString(v) : "null";
        }
    }

    /** Not available in this placeholder: throws, naming the branch that provides it. */
    public static Result run(int[] sizes, Consumer<String> log) {
        throw new UnsupportedOperationException(
                "the CPU matmul benchmark is not part of this build (placeholder CpuMatmulBench; the benchmarks module provides it)");
    }
}
