package dev.ballast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.Strided;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What fused gradient clipping costs: for each gradient set, on one device, the median time of
 * <ul>
 *   <li>{@code norm_ms}: {@link MultiTensorOps#multiTensorNorm} (L2) + {@link MultiTensorOps#clipCoefficient};</li>
 *   <li>{@code clip_ms}: the same + {@link MultiTensorOps#multiTensorScale} (clip_grad_norm_);</li>
 *   <li>{@code adamw_ms}: {@link MultiTensorOps#fusedAdam} (AdamW) with no coefficient;</li>
 *   <li>{@code clip_adamw_ms}: norm + coefficient + fusedAdam reading the coefficient and the non-finite flag
 *       from device memory (the clipped step, with no separate scale pass);</li>
 *   <li>{@code chain_ms}: the real {@code GradientChain} of the common mixed-precision step, {@code unscale(scaler),
 *       skipIfNonFinite(), clipByGlobalNorm(1), apply(adamw)} on F32 parameters: it must cost what
 *       {@code clip_adamw_ms} costs (one gradient read plus the optimizer's pass) plus a few scalar launches
 *       ({@code chain_overhead_pct} over {@code clip_adamw_ms});</li>
 *   <li>{@code api_ms}: what that chain reduces to through the public API, by hand: {@code GradNorm.compute} (one
 *       read) and {@code AdamW.stepAsync(coefficient, skip)} (the optimizer's pass), on the same parameters. The
 *       difference between {@code api_ms} and {@code clip_adamw_ms} is the optimizer API's own per-tensor host work
 *       (views, state lookups), which the chain cannot avoid; {@code chain_ms} over {@code api_ms} is the chain's.</li>
 *   <li>{@code amp_ms}: the mixed-precision step: norm pass with the overflow check, clip coefficient times the
 *       inverse loss scale, and fusedAdam honouring the skip flag and writing fp16 working copies of the weights;</li>
 * </ul>
 * plus the norm pass's read bandwidth beside a plain device copy's (read + write bytes over time), the overhead
 * of {@code clip_adamw} over {@code adamw}, and PyTorch's {@code clip_grad_norm_} and AdamW step on the same
 * shapes where {@code python3 -c "import torch"} works ({@link TorchClipBench}).
 *
 * <p>Data are random normal values from a seeded {@link Generator} (constant data runs faster than real data).
 * Gradients of an F16/BF16 entry are normed in their own dtype; scaling and AdamW, whose SPI takes F32 lists,
 * use F32 master copies of them. The tensor lists are built once per set and passed again on every call,
 * so a backend that keeps a device-side table per list can reuse it.
 *
 * <p>Timing: {@link System#nanoTime} around the work followed by {@link Backend#synchronize()}. On the CPU
 * backend the work is synchronous, so this is exact. On CUDA it includes the synchronize's host round-trip
 * (some microseconds): CUDA events recorded on the stream would be more exact and are what the PyTorch side
 * uses; the difference matters only for sets that take well under a millisecond.
 *
 * <p>A set is skipped, with a message saying how much it needs, when its params, gradients (plus F32 master
 * copies of half gradients) and two AdamW moments would not fit: on the CPU 70% of the machine's physical
 * memory (native memory, outside the Java heap), on CUDA 90% of the device's free memory.
 */
public final class ClipBench {
    private ClipBench() {}

    /** max_norm used everywhere, as in pytorch-clip-bench.py. */
    static final double MAX_NORM = 1.0;
    /** The loss scale of the mixed-precision row: 1, as on the PyTorch side, so repeated steps see the same values. */
    static final double AMP_SCALE = 1.0;
    /** AdamW hyperparameters: PyTorch's defaults with a tiny lr so weights barely move over the repetitions. */
    static final MultiTensorOps.AdamParams ADAMW = new MultiTensorOps.AdamParams(0.9, 0.999, 1e-8, 0.01, true);
    static final LrSchedule LR = LrSchedule.constant(1e-6);

    /**
     * Warm-up and repetition rule: at least {@code minWarmup} calls and {@code warmupSeconds}; then at least
     * {@code minReps} timed calls, more until {@code targetSeconds} are spent or {@code maxReps} are taken; the median wins.
     */
    public record Timing(double warmupSeconds, int minWarmup, int minReps, int maxReps, double targetSeconds) {
        /** The default for reported figures. */
        public static final Timing DEFAULT = new Timing(0.3, 2, 5, 30, 1.5);
        /** Few repetitions, for smoke tests. */
        public static final Timing QUICK = new Timing(0, 1, 3, 3, 0);

        public Timing {
            if (minWarmup < 0 || minReps < 1 || maxReps < minReps || warmupSeconds < 0 || targetSeconds < 0)
                throw new IllegalArgumentException("invalid timing " + this + ": need minWarmup >= 0, 1 <= minReps <= maxReps, seconds >= 0");
        }
    }

    /** The figures for one measured set; torch figures are null where PyTorch was not measured. */
    public record SetResult(String name, int tensors, long params, long gradBytes, double normMs, double clipMs,
                            double adamwMs, double clipAdamwMs, double chainMs, double apiMs, double normGbps, double copyGbps,
                            Double torchClipMs, Double torchAdamwMs, double ampMs, Double torchAmpMs) {
        /** Norm-pass bandwidth as a share of plain copy bandwidth, in percent. */
        public double normPercentOfCopy() { return 100 * normGbps / copyGbps; }

        /** How much longer the clipped AdamW step takes than the plain one, in percent. */
        public double overheadPercent() { return 100 * (clipAdamwMs / adamwMs - 1); }

        /** How much longer the whole chain (unscale, skip, clip by norm, AdamW) takes than the fused clip+AdamW, in percent. */
        public double chainOverheadPercent() { return 100 * (chainMs / clipAdamwMs - 1); }

        /** How much longer the chain takes than the same read and optimizer pass called by hand, in percent. */
        public double chainOverApiPercent() { return 100 * (chainMs / apiMs - 1); }

        SetResult withTorch(TorchClipBench.Figures f) {
            return new SetResult(name, tensors, params, gradBytes, normMs, clipMs, adamwMs, clipAdamwMs, chainMs, apiMs, normGbps,
                    copyGbps, f.clipMs(), f.adamwMs(), ampMs, f.ampMs());
        }
    }

    /** Everything one run measured: the device, the copy ceiling, measured sets, and skipped sets with the reason. */
    public record Result(String device, String description, double copyGbps, Map<String, SetResult> sets,
                         Map<String, String> skipped, String torchNote) {

        /**
         * {"device": ..., "description": ..., "copy_gbps": x, "sets": {NAME: {"tensors", "params", "norm_ms",
         * "clip_ms", "adamw_ms", "clip_adamw_ms", "torch_clip_ms", "torch_adamw_ms", "amp_ms", "torch_amp_ms", "norm_gbps", "copy_gbps",
         * "norm_pct_of_copy", "overhead_pct"}}, "skipped": {NAME: reason}}, torch figures null when not measured.
         */
        public String toJson() {
            ObjectMapper om = new ObjectMapper();
            ObjectNode root = om.createObjectNode();
            root.put("device", device);
            root.put("description", description);
            root.put("copy_gbps", copyGbps);
            ObjectNode sn = root.putObject("sets");
            for (SetResult s : sets.values()) {
                ObjectNode o = sn.putObject(s.name());
                o.put("tensors", s.tensors());
                o.put("params", s.params());
                o.put("norm_ms", s.normMs());
                o.put("clip_ms", s.clipMs());
                o.put("adamw_ms", s.adamwMs());
                o.put("clip_adamw_ms", s.clipAdamwMs());
                o.put("chain_ms", s.chainMs());
                o.put("chain_overhead_pct", s.chainOverheadPercent());
                o.put("api_ms", s.apiMs());
                o.put("chain_over_api_pct", s.chainOverApiPercent());
                o.put("torch_clip_ms", s.torchClipMs());
                o.put("torch_adamw_ms", s.torchAdamwMs());
                o.put("amp_ms", s.ampMs());
                o.put("torch_amp_ms", s.torchAmpMs());
                o.put("norm_gbps", s.normGbps());
                o.put("copy_gbps", s.copyGbps());
                o.put("norm_pct_of_copy", s.normPercentOfCopy());
                o.put("overhead_pct", s.overheadPercent());
            }
            ObjectNode sk = root.putObject("skipped");
            skipped.forEach(sk::put);
            root.put("torch", torchNote);
            return root.toString();
        }
    }

    /**
     * Measures {@code sets} on {@code device}; with {@code torch}, also PyTorch on the same shapes after all
     * Ballast sets are done (so both never hold memory at once). Progress lines go to {@code log}.
     *
     * @throws IllegalStateException when the device's backend has no fused {@link MultiTensorOps}
     */
    public static Result run(Device device, List<ClipShapes.GradSet> sets, Timing timing, boolean torch,
                             Consumer<String> log) {
        return run(device, sets, timing, torch, 0, log);
    }

    /**
     * As {@link #run(Device, List, Timing, boolean, Consumer)} with the size of the copy-bandwidth buffers given
     * ({@code copyBytes} per buffer; 0: 256 MiB on the CPU, 1 GiB on CUDA). Keep it well above the last-level cache.
     */
    public static Result run(Device device, List<ClipShapes.GradSet> sets, Timing timing, boolean torch,
                             long copyBytes, Consumer<String> log) {
        if (!(device.backend().multiTensorOps().orElse(null) instanceof MultiTensorOps fused))
            throw new IllegalStateException("backend '" + device.name() + "' does not implement MultiTensorOps (the fused "
                    + "norm, scale and optimizer kernels), so there is no fused clipping to measure on it");
        long budget = memoryBudget(device);
        log.accept(String.format(Locale.ROOT, "device %s (%s); memory budget for a set %s", device.name(),
                device.backend().description(), gb(budget)));
        double copyGbps = copyBandwidth(device,
                Math.min(budget / 4, copyBytes > 0 ? copyBytes : defaultCopyBytes(device)), timing);
        log.accept(String.format(Locale.ROOT, "plain copy: %.1f GB/s (read + write)", copyGbps));
        Map<String, SetResult> measured = new LinkedHashMap<>();
        Map<String, String> skipped = new LinkedHashMap<>();
        List<ClipShapes.GradSet> ran = new ArrayList<>();
        for (ClipShapes.GradSet set : sets) {
            long need = bytesNeeded(set);
            if (need > budget) {
                String why = String.format(Locale.ROOT, "needs %s for params, grads and AdamW moments (%,d params), "
                        + "more than the %s budget on %s", gb(need), set.params(), gb(budget), device.name());
                log.accept("skipping " + set.name() + ": " + why);
                skipped.put(set.name(), why);
                continue;
            }
            log.accept(String.format(Locale.ROOT, "%s: %d tensors, %,d params, allocating %s", set.name(),
                    set.tensors().size(), set.params(), gb(need)));
            measured.put(set.name(), measure(device, fused, set, copyGbps, timing, log));
            ran.add(set);
        }
        String torchNote = "not requested";
        if (torch) {
            StringBuilder note = new StringBuilder();
            Map<String, TorchClipBench.Figures> t = TorchClipBench.run(device.name(), ran, timing, line -> {
                log.accept(line);
                note.append(note.isEmpty() ? "" : "; ").append(line);
            });
            t.forEach((name, f) -> measured.computeIfPresent(name, (k, r) -> r.withTorch(f)));
            torchNote = note.isEmpty() ? "no set measured" : note.toString();
        }
        return new Result(device.name(), device.backend().description(), copyGbps, measured, skipped, torchNote);
    }

    /** Bytes a set needs: F32 params, grads in their dtype, F32 master copies of half grads, two F32 moments. */
    public static long bytesNeeded(ClipShapes.GradSet set) {
        long b = 0;
        for (ClipShapes.Entry e : set.tensors()) {
            long n = e.numel();
            b += n * (4 + e.dtype().byteSize() + (e.dtype() == DType.F32 ? 0 : 4) + 8);
        }
        return b;
    }

    /** What a set may use: 70% of physical memory on the CPU, 90% of free device memory on CUDA. */
    static long memoryBudget(Device device) {
        if (device.backend() instanceof dev.ballast.cuda.CudaBackend cuda) {
            cuda.bind();
            long free = cuda.driver().memGetInfo()[0];
            return (long) (0.9 * free);
        }
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun)
            return (long) (0.7 * sun.getTotalMemorySize());
        return Long.MAX_VALUE; // no way to know: try, and let the allocator say so
    }

    private static long defaultCopyBytes(Device device) {
        return device.name().equals("cuda") ? 1L << 30 : 1L << 28;
    }

    private static SetResult measure(Device device, MultiTensorOps fused, ClipShapes.GradSet set, double copyGbps,
                                     Timing timing, Consumer<String> log) {
        Backend backend = device.backend();
        List<Tensor> owned = new ArrayList<>();
        try {
            Generator gen = new Generator(0xC11FL + set.name().hashCode());
            List<Strided> params = new ArrayList<>(), grads = new ArrayList<>(), master = new ArrayList<>();
            List<Strided> expAvg = new ArrayList<>(), expAvgSq = new ArrayList<>();
            List<Tensor> paramTensors = new ArrayList<>(), masterTensors = new ArrayList<>(), moments = new ArrayList<>();
            long gradBytes = 0;
            for (ClipShapes.Entry e : set.tensors()) {
                long[] shape = e.shape();
                Tensor p = keep(owned, Tensor.randn(gen, device, shape));
                paramTensors.add(p);
                params.add(p.view());
                Tensor g = keep(owned, Tensor.random(RandomKind.NORMAL, gen, device, e.dtype(), shape));
                grads.add(g.view());
                Tensor m = e.dtype() == DType.F32 ? g : keep(owned, g.to(DType.F32));
                masterTensors.add(m);
                master.add(m.view());
                expAvg.add(keep(moments, keep(owned, Tensor.zeros(device, DType.F32, shape))).view());
                expAvgSq.add(keep(moments, keep(owned, Tensor.zeros(device, DType.F32, shape))).view());
                gradBytes += e.numel() * e.dtype().byteSize();
            }
            Tensor total = keep(owned, Tensor.empty(device, DType.F64, 2));
            Tensor stats = keep(owned, Tensor.empty(device, DType.F32, 3));
            Tensor step = keep(owned, Tensor.zeros(device, DType.F64));
            Strided totalV = total.view(), statsV = stats.view(), stepV = step.view();
            Strided coef = statsV.withLayout(new long[0], new long[0]).withOffset(1);
            Strided skip = statsV.withLayout(new long[0], new long[0]).withOffset(2);
            backend.synchronize();

            Runnable norm = () -> {
                fused.multiTensorNorm(grads, NormKind.L2, 2, null, totalV);
                fused.clipCoefficient(totalV, NormKind.L2, 2, MAX_NORM, statsV);
            };
            double normMs = time(backend, norm, timing);
            checkNorm(stats, set);
            log.accept(String.format(Locale.ROOT, "  norm %.3f ms", normMs));
            double clipMs = time(backend, () -> {
                norm.run();
                fused.multiTensorScale(master, coef);
            }, timing);
            log.accept(String.format(Locale.ROOT, "  clip %.3f ms", clipMs));
            double adamwMs = time(backend, () ->
                    fused.fusedAdam(params, master, expAvg, expAvgSq, ADAMW, LR, null, null, stepV), timing);
            log.accept(String.format(Locale.ROOT, "  adamw %.3f ms", adamwMs));
            double clipAdamwMs = time(backend, () -> {
                norm.run();
                fused.fusedAdam(params, master, expAvg, expAvgSq, ADAMW, LR, coef, skip, stepV);
            }, timing);
            log.accept(String.format(Locale.ROOT, "  clip+adamw %.3f ms", clipAdamwMs));
            // mixed precision: overflow check + unscale + clip + AdamW writing fp16 working copies, all fused
            List<Strided> copies = new ArrayList<>();
            for (Strided p : params) copies.add(keep(owned, Tensor.empty(device, DType.F16, p.shape())).view());
            Tensor inv = keep(owned, Tensor.scalar(device, DType.F32, 1 / AMP_SCALE));
            Strided invV = inv.view();
            double ampMs = time(backend, () -> {
                fused.multiTensorNorm(master, NormKind.L2, 2, null, totalV);
                fused.clipCoefficient(totalV, NormKind.L2, 2, MAX_NORM * AMP_SCALE, statsV); // the norm is of scaled values
                fused.multiTensorScale(List.of(coef), invV);                                  // clip coefficient / scale
                fused.fusedAdam(params, master, expAvg, expAvgSq, ADAMW, LR, coef, skip, stepV, copies);
            }, timing);
            log.accept(String.format(Locale.ROOT, "  amp (check+unscale+clip+adamw+fp16 copies) %.3f ms", ampMs));
            for (Tensor t : moments) { // the chain's AdamW makes its own moments: free these first
                owned.remove(t);
                t.close();
            }
            double[] chain = chainMs(device, paramTensors, masterTensors, timing);
            double chainMs = chain[0], apiMs = chain[1];
            log.accept(String.format(Locale.ROOT, "  chain (unscale, skip, clip, adamw) %.3f ms; norm + AdamW.stepAsync by hand %.3f ms", chainMs, apiMs));
            double normGbps = gradBytes / (normMs * 1e6);
            return new SetResult(set.name(), set.tensors().size(), set.params(), gradBytes, normMs, clipMs, adamwMs,
                    clipAdamwMs, chainMs, apiMs, normGbps, copyGbps, null, null, ampMs, null);
        } finally {
            for (Tensor t : owned) t.close();
        }
    }

    /**
     * The common chain through the real {@code GradientChain}: the F32 parameters get the F32 gradients; the scale is
     * 1024, so the unscaled gradients are small, and the lr tiny, so the weights barely move over the repetitions.
     */
    private static double[] chainMs(Device device, List<Tensor> params, List<Tensor> grads, Timing timing) {
        for (int i = 0; i < params.size(); i++) {
            params.get(i).requiresGrad(true);
            params.get(i).setGrad(grads.get(i));
        }
        try (var scaler = new dev.ballast.stability.scale.GradScaler(device, 1024, 2, 0.5, 1 << 30);
             var adamw = new dev.ballast.engine.optim.AdamW(params, 1e-6, ADAMW.beta1(), ADAMW.beta2(), ADAMW.eps(), ADAMW.weightDecay());
             var chain = dev.ballast.stability.chain.GradientChain.of(dev.ballast.stability.chain.Link.unscale(scaler),
                     dev.ballast.stability.chain.Link.skipIfNonFinite(), dev.ballast.stability.chain.Link.clipByGlobalNorm(MAX_NORM),
                     dev.ballast.stability.chain.Link.apply(adamw))) {
            double chainMs = time(device.backend(), () -> {
                try (dev.ballast.engine.Scope s = dev.ballast.engine.Scope.open()) {
                    chain.step();
                }
            }, timing);
            double apiMs = time(device.backend(), () -> {
                try (dev.ballast.engine.Scope s = dev.ballast.engine.Scope.open()) {
                    Tensor st = dev.ballast.stability.clip.GradNorm.compute(device, grads, MAX_NORM, 2, null);
                    adamw.stepAsync(st.narrow(0, 1, 1).reshape(), st.narrow(0, 2, 1).reshape());
                }
            }, timing);
            return new double[]{chainMs, apiMs};
        } finally {
            for (Tensor p : params) {
                p.setGrad(null);
                p.requiresGrad(false);
            }
        }
    }

    /** A broken kernel must not yield a timing: the norm of random normal gradients is finite and positive. */
    private static void checkNorm(Tensor stats, ClipShapes.GradSet set) {
        double[] s = stats.toDoubleArray();
        boolean empty = set.params() == 0;
        if (!(Double.isFinite(s[0]) && (s[0] > 0 || empty)) || s[2] != 0)
            throw new IllegalStateException("the fused norm of random gradients of set " + set.name()
                    + " came out as " + Arrays.toString(s) + " ([norm, coefficient, nonFinite]); refusing to report timings");
    }

    /** Median milliseconds of {@code work} under {@code timing}'s rule (see {@link DeviceTimer}). */
    static double time(Backend backend, Runnable work, Timing timing) { return DeviceTimer.medianMs(backend, work, timing); }

    public static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int k = v.length;
        return k % 2 == 1 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
    }

    /** Plain device copy of {@code bytes} (rounded to floats) into another buffer: GB/s counting read and write. */
    static double copyBandwidth(Device device, long bytes, Timing timing) {
        long n = Math.max(1, bytes / 4);
        try (Tensor src = Tensor.randn(new Generator(7), device, n); Tensor dst = Tensor.empty(device, DType.F32, n)) {
            Strided s = src.view(), d = dst.view();
            double ms = time(device.backend(), () -> device.backend().copy(s, d), timing);
            return 2.0 * n * 4 / (ms * 1e6);
        }
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    static String gb(long bytes) {
        return bytes == Long.MAX_VALUE ? "unlimited" : String.format(Locale.ROOT, "%.1f GB", bytes / 1e9);
    }

    /**
     * {@code ClipBench [--device cpu|cuda|auto] [--shapes FILE.json] [--no-torch] [--json]}: measures and prints
     * progress to stderr, the JSON to stdout with {@code --json}. The {@code ballast bench clip} command is the
     * friendlier front end.
     */
    public static void main(String[] args) {
        List<String> a = Arrays.asList(args);
        int di = a.indexOf("--device"), si = a.indexOf("--shapes");
        Device device = di >= 0 ? Device.named(a.get(di + 1)) : Device.auto();
        List<ClipShapes.GradSet> sets = si >= 0 ? List.of(ClipShapes.read(java.nio.file.Path.of(a.get(si + 1))))
                : ClipShapes.builtIn();
        Result r = run(device, sets, Timing.DEFAULT, !a.contains("--no-torch"), System.err::println);
        if (a.contains("--json")) System.out.println(r.toJson());
    }
}
