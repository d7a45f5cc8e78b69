package dev.ballast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.cuda.CudaBackend;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.RandomKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Square matmul throughput through the Tensor API: {@code a.matmul(b)} with {@code a}, {@code b} random normal
 * {@code n x n} tensors of the row's dtype, the median time of repeated calls after warm-up
 * ({@link DeviceTimer}: the backend synchronized around each call), in TFLOP/s = {@code 2 n^3 / t}.
 * The timed call includes allocating the result and, where the engine widens half operands to F32 (the CPU
 * backend), the widening copies: the cost a user of {@code Tensor.matmul} pays.
 *
 * <p>Dtypes: fp32 (TF32 off), tf32 (F32 tensors with {@link CudaBackend#setAllowTf32} on; CUDA only, skipped with
 * a note on the CPU), bf16 and fp16. The TF32 setting is restored afterwards. Each product is checked at a few
 * entries against a float64 dot product of the same (rounded) operands, so a broken kernel yields an error
 * instead of a figure. PyTorch runs the same products on the same device afterwards
 * ({@code torch.backends.cuda.matmul.allow_tf32} for tf32, CUDA events on the GPU) where it imports.
 */
public final class MatmulBench {
    private MatmulBench() {}

    /**
     * The timing for reported figures: a full second of warm-up per row (the JIT compiles the CPU kernels and
     * the Tensor layer during the first rows), then at least 5 timed calls, up to 30 within 1.5 s.
     */
    public static final ClipBench.Timing TIMING = new ClipBench.Timing(1.0, 3, 5, 30, 1.5);

    /** Default sizes on CUDA, where 8192 takes milliseconds. */
    public static final int[] CUDA_SIZES = {1024, 2048, 4096, 8192};
    /** Default sizes on the CPU, where 8192 would take minutes. */
    public static final int[] CPU_SIZES = {256, 512, 1024};

    /** A matmul precision: the tensor dtype and whether TF32 is allowed. */
    public enum Precision {
        FP32("fp32", DType.F32, false), TF32("tf32", DType.F32, true),
        BF16("bf16", DType.BF16, false), FP16("fp16", DType.F16, false);

        public final String label;
        public final DType dtype;
        public final boolean tf32;

        Precision(String label, DType dtype, boolean tf32) {
            this.label = label;
            this.dtype = dtype;
            this.tf32 = tf32;
        }

        /** The allowed labels, comma-separated: "fp32, tf32, bf16, fp16". */
        public static String allowed() {
            return String.join(", ", Arrays.stream(values()).map(p -> p.label).toList());
        }

        /** The precision with this label (case-insensitive); throws naming the allowed labels otherwise. */
        public static Precision parse(String label) {
            for (Precision p : values()) if (p.label.equalsIgnoreCase(label.strip())) return p;
            throw new IllegalArgumentException("unknown dtype '" + label + "'; allowed: " + allowed());
        }
    }

    /**
     * Measures every (precision, size) pair on {@code device}, then PyTorch on the same pairs when {@code torch}.
     * Progress lines go to {@code log}.
     */
    public static BenchReport run(Device device, int[] sizes, List<Precision> precisions, ClipBench.Timing timing,
                                  boolean torch, Consumer<String> log) {
        boolean cuda = device.backend() instanceof CudaBackend;
        List<BenchReport.Row> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        log.accept("device " + device.name() + " (" + device.backend().description() + ")");
        boolean tf32Before = CudaBackend.allowTf32();
        try {
            for (Precision p : precisions) {
                if (p.tf32 && !cuda) {
                    String why = "tf32 skipped: TF32 is a tensor-core mode of CUDA matmul; the " + device.name()
                            + " backend computes F32 in full precision";
                    log.accept(why);
                    notes.add(why);
                    continue;
                }
                if (p.dtype.isHalf() && !device.backend().supportsHalfMatmul()) {
                    String why = p.label + ": the " + device.name() + " backend does not declare half matmul "
                            + "(Backend.supportsHalfMatmul), so Tensor.matmul widens the operands to f32, multiplies in "
                            + "f32 and rounds the result; the casts are inside the timed call";
                    log.accept(why);
                    notes.add(why);
                }
                CudaBackend.setAllowTf32(p.tf32);
                for (int n : sizes) {
                    double ms = measure(device, p, n, timing);
                    double tflops = 2.0 * n * n * (double) n / (ms * 1e-3) / 1e12;
                    log.accept(String.format(Locale.ROOT, "matmul %s n=%d: %.3f ms, %.3f TFLOP/s", p.label, n, ms, tflops));
                    rows.add(new BenchReport.Row("matmul", p.label, n, tflops, null, "TFLOP/s"));
                }
            }
        } finally {
            CudaBackend.setAllowTf32(tf32Before);
        }
        if (cuda) ((CudaBackend) device.backend()).emptyCache(); // let PyTorch have the memory
        if (!torch) {
            notes.add("torch: not requested");
        } else if (!rows.isEmpty()) {
            rows = withTorch(device.name(), rows, timing, notes, log);
        }
        return new BenchReport(device.name(), device.backend().description(), rows, notes);
    }

    private static double measure(Device device, Precision p, int n, ClipBench.Timing timing) {
        Generator gen = new Generator(0x3A7L * 31 + n);
        try (Tensor a = Tensor.random(RandomKind.NORMAL, gen, device, p.dtype, n, n);
             Tensor b = Tensor.random(RandomKind.NORMAL, gen, device, p.dtype, n, n)) {
            try (Tensor c = a.matmul(b)) {
                check(a, b, c, p, n);
            }
            return DeviceTimer.medianMs(device.backend(), () -> a.matmul(b).close(), timing);
        }
    }

    /** A few entries of {@code c} against float64 dot products of the operands as stored (already rounded). */
    private static void check(Tensor a, Tensor b, Tensor c, Precision p, int n) {
        // fp32: accumulation error only; tf32 truncates inputs to 10 mantissa bits, half dtypes round the output.
        double rel = p == Precision.FP32 ? 1e-3 : p == Precision.BF16 ? 2e-2 : 1e-2;
        SplittableRandom rnd = new SplittableRandom(n);
        for (int t = 0; t < 4; t++) {
            int i = rnd.nextInt(n), j = rnd.nextInt(n);
            double[] row, col;
            double got;
            try (Tensor ar = a.select(0, i); Tensor bc = b.select(1, j); Tensor cr = c.select(0, i); Tensor cij = cr.select(0, j)) {
                row = ar.toDoubleArray();
                col = bc.toDoubleArray();
                got = cij.item();
            }
            double want = 0, mag = 0;
            for (int k = 0; k < n; k++) {
                want += row[k] * col[k];
                mag += Math.abs(row[k] * col[k]);
            }
            if (!(Math.abs(got - want) <= rel * mag + 1e-6))
                throw new IllegalStateException(String.format(Locale.ROOT, "matmul %s n=%d gave c[%d,%d] = %g, a float64 "
                        + "reference says %g (tolerance %g); refusing to report a timing", p.label, n, i, j, got, want, rel * mag));
        }
    }

    /** The PyTorch side (a {@code python3 -c} script reading its configuration as JSON on stdin): same products, same device. */
    public static final String SCRIPT = TorchProcess.PREAMBLE + String.join("\n",
        "DT = {'fp32': torch.float32, 'tf32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}",
        "out = []",
        "for r in cfg['rows']:",
        "    n = r['n']; d = r['dtype']",
        "    if cuda: torch.backends.cuda.matmul.allow_tf32 = d == 'tf32'",
        "    a = randn(n, n, dtype=DT[d]); b = randn(n, n, dtype=DT[d])",
        "    ms = bench(lambda: torch.matmul(a, b))",
        "    out.append({'dtype': d, 'n': n, 'tflops': 2.0 * n ** 3 / (ms * 1e-3) / 1e12})",
        "    del a, b",
        "    if cuda: torch.cuda.empty_cache()",
        "info = torch.cuda.get_device_name() if cuda else '%d threads' % torch.get_num_threads()",
        "print(json.dumps({'torch': torch.__version__, 'info': info, 'rows': out}))");

    private static List<BenchReport.Row> withTorch(String device, List<BenchReport.Row> rows, ClipBench.Timing timing,
                                                   List<String> notes, Consumer<String> log) {
        ObjectNode cfg = new ObjectMapper().createObjectNode();
        cfg.put("device", device);
        TorchProcess.putTiming(cfg, timing);
        ArrayNode arr = cfg.putArray("rows");
        for (BenchReport.Row r : rows) arr.addObject().put("dtype", r.dtype()).put("n", r.n());
        log.accept("running PyTorch on the same products...");
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
        List<BenchReport.Row> out = new ArrayList<>();
        for (BenchReport.Row r : rows) {
            Double t = null;
            for (JsonNode tr : json.path("rows")) {
                if (tr.path("dtype").asText().equals(r.dtype()) && tr.path("n").asLong() == r.n())
                    t = tr.path("tflops").asDouble();
            }
            out.add(r.withTorch(t, null));
        }
        return out;
    }
}
