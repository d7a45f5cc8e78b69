package dev.ballast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.cpu.matmul.CpuMatmul;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Side-by-side float32 matrix multiply: Ballast's {@link CpuMatmul#gemmF32} against NumPy's
 * {@code a @ b} on the same machine, square {@code n x n} products on random data, each figure the
 * median of repeated timed runs after warm-up, in GFLOP/s ({@code 2 n^3 / seconds / 1e9}).
 *
 * <p>NumPy runs in a {@code python3} child process whose environment lacks {@code OPENBLAS_CORETYPE}
 * and {@code OPENBLAS_L2_SIZE}, so OpenBLAS picks its native kernel for this CPU rather than one
 * forced by the parent environment. Where python3 or NumPy is missing, the NumPy figures are null
 * and the log says why. Run directly with
 * {@code java --add-modules jdk.incubator.vector -cp <classpath> dev.ballast.bench.CpuMatmulBench [sizes...] [--json]}.
 */
public final class CpuMatmulBench {

    /** Measured figures; NumPy entries (and the ratios) are null where NumPy could not be run. */
    public record Result(int[] sizes, double[] ballastGflops, Double[] numpyGflops) {

        /** Ballast over NumPy at index {@code i}, or null without a NumPy figure. */
        public Double ratio(int i) {
            Double np = numpyGflops[i];
            return np == null || np <= 0 ? null : ballastGflops[i] / np;
        }

        /** {@code {"sizes":[...],"ballast_gflops":[...],"numpy_gflops":[...],"ratio":[...]}}. */
        public String toJson() {
            ObjectMapper om = new ObjectMapper();
            ObjectNode root = om.createObjectNode();
            ArrayNode s = root.putArray("sizes"), bg = root.putArray("ballast_gflops"),
                      ng = root.putArray("numpy_gflops"), r = root.putArray("ratio");
            for (int i = 0; i < sizes.length; i++) {
                s.add(sizes[i]);
                bg.add(round(ballastGflops[i], 1));
                if (numpyGflops[i] == null) ng.addNull(); else ng.add(round(numpyGflops[i], 1));
                Double ri = ratio(i);
                if (ri == null) r.addNull(); else r.add(round(ri, 3));
            }
            return root.toString();
        }

        private static double round(double v, int digits) {
            double f = Math.pow(10, digits);
            return Math.round(v * f) / f;
        }
    }

    /** Seconds of timed runs to aim for per size (at least {@link #MIN_REPS} runs). */
    private static final double TARGET_SECONDS = 1.5;
    private static final int MIN_REPS = 7;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private CpuMatmulBench() {}

    /**
     * Measures every size with Ballast and NumPy, logging one line per size. The two sides of one
     * size are measured back to back, so that load from other processes skews them alike.
     */
    public static Result run(int[] sizes, Consumer<String> log) {
        int threads = Runtime.getRuntime().availableProcessors();
        log.accept("cpu-matmul: float32 n x n @ n x n, random data, median of >= " + MIN_REPS + " runs, " + threads + " threads");
        double[] ballast = new double[sizes.length];
        Double[] numpy = new Double[sizes.length];
        Result result = new Result(sizes.clone(), ballast, numpy);
        ForkJoinPool pool = new ForkJoinPool(threads);
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom rnd = new SplittableRandom(42);
            // JIT warm-up: the micro-kernel, packing and driver reach C2, the ragged-edge paths too
            // (a path first taken after compilation would cost a deoptimization inside a timing).
            Operands warm = Operands.random(arena, 384, rnd), ragged = Operands.random(arena, 250, rnd);
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(3000);
            while (System.nanoTime() < until) {
                warm.multiply(pool);
                ragged.multiply(pool);
            }
            boolean numpyAvailable = true;
            for (int i = 0; i < sizes.length; i++) {
                Operands op = Operands.random(arena, sizes[i], rnd);
                op.multiply(pool);
                op.multiply(pool);
                ballast[i] = 2.0 * Math.pow(sizes[i], 3) / median(timeRuns(() -> op.multiply(pool))) / 1e9;
                if (numpyAvailable) {
                    Double[] np = numpy(new int[]{sizes[i]}, i == 0 ? log : s -> {}, log);
                    numpy[i] = np[0];
                    numpyAvailable = np[0] != null;
                }
                Double r = result.ratio(i);
                log.accept(String.format("n=%-5d ballast %7.1f GFLOP/s   numpy %s   ratio %s", sizes[i], ballast[i],
                    numpy[i] == null ? "      -        " : String.format("%7.1f GFLOP/s", numpy[i]),
                    r == null ? "-" : String.format("%.2f", r)));
            }
        } finally {
            pool.shutdown();
        }
        return result;
    }

    private static double[] timeRuns(Runnable r) {
        double[] secs = new double[1024];
        int n = 0;
        double total = 0;
        while (n < secs.length && (n < MIN_REPS || total < TARGET_SECONDS)) {
            long t0 = System.nanoTime();
            r.run();
            double s = (System.nanoTime() - t0) / 1e9;
            secs[n++] = s;
            total += s;
        }
        return Arrays.copyOf(secs, n);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /** Three row-major n x n float32 matrices; A and B random in [-1, 1). */
    private record Operands(int n, MemorySegment a, MemorySegment b, MemorySegment c) {
        static Operands random(Arena arena, int n, SplittableRandom rnd) {
            long elems = (long) n * n;
            MemorySegment a = arena.allocate(4 * elems, 64), b = arena.allocate(4 * elems, 64), c = arena.allocate(4 * elems, 64);
            for (long e = 0; e < elems; e++) {
                a.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
                b.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
            }
            return new Operands(n, a, b, c);
        }

        void multiply(ForkJoinPool pool) {
            CpuMatmul.gemmF32(1, n, n, n, a, 0, 0, n, 1, b, 0, 0, n, 1, c, 0, 0, n, pool);
        }
    }

    /** Times float32 {@code a @ b} per size given in argv[1] (comma-separated); prints one JSON line. */
    private static final String NUMPY_SCRIPT = String.join("\n",
        "import json, sys, time",
        "import numpy as np",
        "rng = np.random.default_rng(42)",
        "out = []",
        "for n in [int(s) for s in sys.argv[1].split(',')]:",
        "    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)",
        "    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)",
        "    for _ in range(3): a @ b",
        "    times = []",
        "    while len(times) < " + MIN_REPS + " or sum(times) < " + TARGET_SECONDS + ":",
        "        t0 = time.perf_counter(); a @ b; times.append(time.perf_counter() - t0)",
        "        if len(times) >= 1024: break",
        "    times.sort()",
        "    k = len(times)",
        "    med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])",
        "    out.append(2.0 * n ** 3 / med / 1e9)",
        "print(json.dumps({'numpy': np.__version__, 'gflops': out}))");

    /** NumPy figures for {@code sizes}, all null when it cannot run; {@code info} gets the version line, {@code log} failures. */
    private static Double[] numpy(int[] sizes, Consumer<String> info, Consumer<String> log) {
        Double[] out = new Double[sizes.length];
        String arg = String.join(",", Arrays.stream(sizes).mapToObj(Integer::toString).toList());
        ProcessBuilder pb = new ProcessBuilder("python3", "-c", NUMPY_SCRIPT, arg);
        // Only the child's environment: let OpenBLAS choose its own kernel and cache sizes.
        pb.environment().remove("OPENBLAS_CORETYPE");
        pb.environment().remove("OPENBLAS_L2_SIZE");
        pb.redirectErrorStream(false);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            log.accept("numpy: not measured, python3 could not be started (" + e.getMessage() + ")");
            return out;
        }
        try {
            p.getOutputStream().close();
            // Drain stderr concurrently so a chatty child cannot block on a full pipe.
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread drain = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            int code = p.waitFor();
            drain.join();
            if (code != 0) {
                String[] lines = err.toString(StandardCharsets.UTF_8).strip().split("\n");
                log.accept("numpy: not measured, python3 exited with " + code + ": " + lines[lines.length - 1]);
                return out;
            }
            String last = stdout.substring(stdout.lastIndexOf('\n') + 1);
            JsonNode json = new ObjectMapper().readTree(last);
            JsonNode g = json.get("gflops");
            if (g == null || g.size() != sizes.length) {
                log.accept("numpy: not measured, unexpected output from python3: " + last);
                return out;
            }
            for (int i = 0; i < sizes.length; i++) out[i] = g.get(i).asDouble();
            info.accept("numpy " + json.path("numpy").asText("?") + " (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for it)");
        } catch (IOException e) {
            log.accept("numpy: not measured, reading python3's output failed (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            log.accept("numpy: not measured, interrupted");
        }
        return out;
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try {
            in.transferTo(out);
        } catch (IOException ignored) {
            // the exit code and stdout tell the story
        }
    }

    /** {@code CpuMatmulBench [n ...] [--json]}: measures (default 256 512 1024 2048) and prints the table or JSON. */
    public static void main(String[] args) {
        boolean json = Arrays.asList(args).contains("--json");
        int[] sizes = Arrays.stream(args).filter(a -> !a.startsWith("--")).mapToInt(Integer::parseInt).toArray();
        if (sizes.length == 0) sizes = new int[]{256, 512, 1024, 2048};
        Result r = run(sizes, System.err::println);
        if (json) System.out.println(r.toJson());
    }
}
