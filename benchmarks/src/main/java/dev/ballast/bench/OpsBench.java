package dev.ballast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.cuda.CudaBackend;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Memory-bound op throughput and per-op overhead through the Tensor API, on one device:
 * <ul>
 *   <li>{@code copy}: {@code a.copy()}, the plain copy the others are compared with (8 bytes per element); like
 *       them it allocates its result;</li>
 *   <li>{@code copy_into}: {@code dst.copyFrom(a)} into a buffer allocated once: the copy without the allocation.
 *       Where allocating touches fresh pages (the CPU backend: large {@code aligned_alloc} blocks are fresh
 *       {@code mmap}s, so every first write page-faults) this row shows how much of the others' time that takes;
 *       on CUDA's caching allocator it should match {@code copy};</li>
 *   <li>{@code add}: {@code a.add(b)} (12 bytes per element: two reads, one write);</li>
 *   <li>{@code scale}: {@code a.mul(s)} (8 bytes per element);</li>
 *   <li>{@code sum}: {@code a.sum()} (4 bytes per element read, one value written);</li>
 *   <li>{@code tiny_add}: microseconds of host time per {@code x.add(y)} on 1-element tensors, over at least
 *       {@link #MIN_TINY_CALLS} calls in batches, the backend synchronized only at the end of each batch.</li>
 * </ul>
 * Operands are F32 random normal buffers of the given size each. Bandwidth rows are GB/s (1e9 bytes per second,
 * read + written) of the median call ({@link DeviceTimer}), each with its fraction of the copy row's GB/s.
 * The timed calls include allocating the result, as {@code a + b} does in PyTorch. Results are checked against
 * float64 host arithmetic before any figure is reported. PyTorch runs the same ops ({@code a.clone()},
 * {@code a + b}, {@code a * s}, {@code a.sum()}, {@code x + y}) on the same sizes and device where it imports.
 */
public final class OpsBench {
    private OpsBench() {}

    /**
     * The timing for reported figures: a full second of warm-up per row (the JIT compiles the CPU kernels and
     * the Tensor layer during the first rows), then at least 5 timed calls, up to 30 within 1.5 s.
     */
    public static final ClipBench.Timing TIMING = new ClipBench.Timing(1.0, 3, 5, 30, 1.5);

    /** The fewest tiny-op calls timed. */
    public static final int MIN_TINY_CALLS = 10_000;
    /** The scale factor of the {@code scale} row. */
    static final double SCALE = 1.25;
    private static final int TINY_BATCHES = 10;

    /** Default size of each operand on CUDA, in MiB (2^20 bytes). */
    public static final int CUDA_MB = 256;
    /** Default MiB per operand on the CPU (2 reads and a write of 256 MiB are slow on a small machine). */
    public static final int CPU_MB = 64;

    /**
     * Measures the four bandwidth rows on {@code mb} MiB F32 operands and the tiny-op row over {@code tinyCalls}
     * (at least {@link #MIN_TINY_CALLS}) calls; then PyTorch on the same when {@code torch}.
     */
    public static BenchReport run(Device device, int mb, ClipBench.Timing timing, int tinyCalls, boolean torch,
                                  Consumer<String> log) {
        if (mb < 1) throw new IllegalArgumentException("operand size must be at least 1 MiB, got " + mb);
        int perBatch = Math.ceilDiv(Math.max(tinyCalls, MIN_TINY_CALLS), TINY_BATCHES);
        long n = ((long) mb << 20) / 4;
        Backend be = device.backend();
        log.accept(String.format(Locale.ROOT, "device %s (%s); F32 operands of %d MiB (%,d elements)", device.name(),
                be.description(), mb, n));
        List<BenchReport.Row> rows = new ArrayList<>();
        try (Tensor a = Tensor.randn(new Generator(0x0B5L), device, n);
             Tensor b = Tensor.randn(new Generator(0x0B6L), device, n)) {
            check(a, b);
            double copyMs = DeviceTimer.medianMs(be, () -> a.copy().close(), timing);
            double copy = gbps(bytes("copy", n), copyMs);
            rows.add(row("copy", n, copy, copy, log));
            try (Tensor dst = Tensor.empty(device, DType.F32, n)) {
                rows.add(row("copy_into", n, gbps(bytes("copy_into", n),
                        DeviceTimer.medianMs(be, () -> dst.copyFrom(a), timing)), copy, log));
            }
            rows.add(row("add", n, gbps(bytes("add", n), DeviceTimer.medianMs(be, () -> a.add(b).close(), timing)), copy, log));
            rows.add(row("scale", n, gbps(bytes("scale", n), DeviceTimer.medianMs(be, () -> a.mul(SCALE).close(), timing)), copy, log));
            rows.add(row("sum", n, gbps(bytes("sum", n), DeviceTimer.medianMs(be, () -> a.sum().close(), timing)), copy, log));
        }
        try (Tensor x = Tensor.randn(new Generator(1), device, 1); Tensor y = Tensor.randn(new Generator(2), device, 1)) {
            double us = DeviceTimer.medianUsPerCall(be, () -> x.add(y).close(), 2 * perBatch, TINY_BATCHES, perBatch);
            log.accept(String.format(Locale.ROOT, "tiny_add: %.3f us per call (median of %d batches of %,d calls)",
                    us, TINY_BATCHES, perBatch));
            rows.add(new BenchReport.Row("tiny_add", "fp32", 1, us, null, "us"));
        }
        if (be instanceof CudaBackend cuda) cuda.emptyCache(); // let PyTorch have the memory
        List<String> notes = new ArrayList<>();
        notes.add(String.format(Locale.ROOT, "tiny_add: median host time per call over %d batches of %,d calls, "
                + "synchronized once per batch", TINY_BATCHES, perBatch));
        if (torch) rows = withTorch(device.name(), n, TINY_BATCHES, perBatch, rows, timing, notes, log);
        else notes.add("torch: not requested");
        return new BenchReport(device.name(), be.description(), rows, notes);
    }

    private static BenchReport.Row row(String op, long n, double gbps, double copy, Consumer<String> log) {
        log.accept(String.format(Locale.ROOT, "%s: %.2f GB/s (%.1f%% of copy)", op, gbps, 100 * gbps / copy));
        return new BenchReport.Row(op, "fp32", n, gbps, null, "GB/s", gbps / copy, null);
    }

    /** Bytes read plus written by one call of a bandwidth row's op on {@code n}-element F32 operands. */
    static double bytes(String op, long n) {
        return switch (op) {
            case "copy", "copy_into", "scale" -> 8.0 * n;
            case "add" -> 12.0 * n;
            case "sum" -> 4.0 * n + 4;
            default -> throw new IllegalArgumentException("not a bandwidth op: " + op);
        };
    }

    private static double gbps(double bytes, double ms) {
        return bytes / (ms * 1e6);
    }

    /**
     * A broken kernel must not yield a figure: add and scale are compared with float64 arithmetic on three slices
     * (start, middle, end), the sum with a float64 sum of every element, read back in slices.
     */
    private static void check(Tensor a, Tensor b) {
        long n = a.numel();
        try (Tensor sum = a.add(b); Tensor scaled = a.mul(SCALE)) {
            int len = (int) Math.min(n, 4096);
            for (long start : new long[]{0, (n - len) / 2, n - len}) {
                double[] av = slice(a, start, len), bv = slice(b, start, len), sv = slice(sum, start, len),
                        cv = slice(scaled, start, len);
                for (int i = 0; i < len; i++) {
                    // Both results are F32 roundings of exact values: at most half an ulp off.
                    if (Math.abs(sv[i] - (av[i] + bv[i])) > 1e-6 * Math.abs(av[i] + bv[i]) + 1e-30
                            || Math.abs(cv[i] - av[i] * SCALE) > 1e-6 * Math.abs(av[i] * SCALE) + 1e-30)
                        throw new IllegalStateException(String.format(Locale.ROOT, "element %d: add gave %g (want %g), "
                                + "mul gave %g (want %g); refusing to report timings", start + i, sv[i], av[i] + bv[i],
                                cv[i], av[i] * SCALE));
                }
            }
        }
        double want = 0, mag = 0;
        for (long start = 0; start < n; start += 1 << 22) {
            for (double v : slice(a, start, (int) Math.min(1 << 22, n - start))) {
                want += v;
                mag += Math.abs(v);
            }
        }
        double got;
        try (Tensor s = a.sum()) {
            got = s.item();
        }
        // F32 accumulation of n normal values: error far below 1e-4 of the sum of magnitudes; zeros or garbage are not.
        if (!(Math.abs(got - want) <= 1e-4 * mag))
            throw new IllegalStateException(String.format(Locale.ROOT, "sum of %,d elements gave %g, a float64 "
                    + "reference says %g; refusing to report timings", n, got, want));
    }

    private static double[] slice(Tensor t, long start, int len) {
        try (Tensor s = t.narrow(0, start, len)) {
            return s.toDoubleArray();
        }
    }

    /** The PyTorch side: same ops, sizes and device; times in ms (bandwidth rows) and us (tiny_add). */
    public static final String SCRIPT = TorchProcess.PREAMBLE + String.join("\n",
        "n = cfg['numel']; s = cfg['scale']",
        "a = randn(n); b = randn(n)",
        "res = {}",
        "res['copy'] = bench(lambda: a.clone())",
        "dst = torch.empty_like(a)",
        "res['copy_into'] = bench(lambda: dst.copy_(a))",
        "res['add'] = bench(lambda: a + b)",
        "res['scale'] = bench(lambda: a * s)",
        "res['sum'] = bench(lambda: a.sum())",
        "del a, b, dst",
        "if cuda: torch.cuda.empty_cache()",
        "x = randn(1); y = randn(1)",
        "per = cfg['tiny_per_batch']",
        "for _ in range(2 * per): x + y",
        "sync()",
        "us = []",
        "for _ in range(cfg['tiny_batches']):",
        "    t0 = time.perf_counter()",
        "    for _ in range(per): x + y",
        "    sync()",
        "    us.append((time.perf_counter() - t0) * 1e6 / per)",
        "res['tiny_add'] = median(us)",
        "info = torch.cuda.get_device_name() if cuda else '%d threads' % torch.get_num_threads()",
        "print(json.dumps({'torch': torch.__version__, 'info': info, 'ms': res}))");

    private static List<BenchReport.Row> withTorch(String device, long n, int batches, int perBatch,
                                                   List<BenchReport.Row> rows, ClipBench.Timing timing,
                                                   List<String> notes, Consumer<String> log) {
        ObjectNode cfg = new ObjectMapper().createObjectNode();
        cfg.put("device", device);
        cfg.put("numel", n);
        cfg.put("scale", SCALE);
        cfg.put("tiny_batches", batches);
        cfg.put("tiny_per_batch", perBatch);
        TorchProcess.putTiming(cfg, timing);
        log.accept("running PyTorch on the same ops...");
        TorchProcess.Outcome o = TorchProcess.run(SCRIPT, cfg.toString());
        if (o.failure() != null) {
            String why = "torch: not measured, " + o.failure();
            log.accept(why);
            notes.add(why);
            return rows;
        }
        JsonNode json = o.json();
        String line = "torch " + json.path("torch").asText("?") + " (" + json.path("info").asText("?") + ")";
        log.accept(line);
        notes.add(line);
        JsonNode t = json.path("ms");
        Supplier<Double> copyGbps = () -> t.path("copy").isNumber() ? gbps(bytes("copy", n), t.get("copy").asDouble()) : null;
        List<BenchReport.Row> out = new ArrayList<>();
        for (BenchReport.Row r : rows) {
            JsonNode v = t.path(r.op());
            if (!v.isNumber()) {
                out.add(r);
                continue;
            }
            if (r.unit().equals("us")) {
                out.add(r.withTorch(v.asDouble(), null));
                continue;
            }
            double g = gbps(bytes(r.op(), n), v.asDouble());
            Double c = copyGbps.get();
            out.add(r.withTorch(g, c == null ? null : g / c));
        }
        return out;
    }
}
