package dev.ballast.bench.step;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ballast.bench.ClipBench;
import dev.ballast.cpu.CpuBackend;
import dev.ballast.cuda.CudaBackend;
import dev.ballast.engine.Device;
import dev.ballast.engine.backend.Backend;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code ballast bench step}: for each model of {@link StepModels}, the median time of a full training step
 * ({@link StepModel#step()}: forward, backward, clip by global norm 1.0, optimizer) after warm-up, with per step the
 * process's minor page faults, the native allocations (C library calls on the CPU, driver calls on CUDA) and the
 * Java heap bytes the stepping thread allocated; then PyTorch on the same models and shapes in the same command
 * ({@link TorchStepBench}), and the ratio Ballast time / PyTorch time (below 1: Ballast is faster).
 */
public final class StepBench {
    private StepBench() {}

    /**
     * Default timing: warm-up of at least 2 s and 8 steps, then on until the JIT has compiled the step's code
     * ({@link JitWarmup}, at most {@link #WARMUP_CAP_SECONDS}), then 7 to 200 steps, 3 s where the step allows (the
     * median of a longer sample is less moved by a slow patch: one in 16 blocks of 500 LSTM steps had a median 15%
     * above the others).
     */
    public static final ClipBench.Timing DEFAULT = new ClipBench.Timing(2.0, 8, 7, 200, 3.0);
    /** Longest warm-up of one model when waiting for the JIT to go quiet. */
    public static final double WARMUP_CAP_SECONDS = 90;

    /** One model's figures; torch figures are null where PyTorch was not measured. */
    public record ModelResult(String name, String description, long params, double ballastMs, int reps, double faultsPerStep,
                              double nativeAllocsPerStep, double heapBytesPerStep, long inUseBytes, long cachedBytes,
                              int warmupSteps, double warmupSeconds, boolean jitQuiet,
                              Double torchMs, Double torchFaultsPerStep, String torchOptimizer) {
        /** Ballast time over PyTorch time, or null. */
        public Double ratio() { return torchMs == null ? null : ballastMs / torchMs; }
    }

    /** The whole run: device, PyTorch's version line or why it did not run, and the models in order. */
    public record Result(String device, String description, int threads, String torchNote, List<ModelResult> models) {
        /** One JSON object: device, threads, torch, and per model ballast_ms, torch_ms, ratio and the memory figures. */
        public String toJson() {
            ObjectMapper om = new ObjectMapper();
            ObjectNode root = om.createObjectNode();
            root.put("device", device);
            root.put("description", description);
            root.put("threads", threads);
            root.put("torch", torchNote);
            ObjectNode ms = root.putObject("models");
            for (ModelResult m : models) {
                ObjectNode o = ms.putObject(m.name());
                o.put("description", m.description());
                o.put("params", m.params());
                o.put("ballast_ms", m.ballastMs());
                putOrNull(o, "torch_ms", m.torchMs());
                putOrNull(o, "ratio", m.ratio());
                o.put("reps", m.reps());
                o.put("page_faults_per_step", m.faultsPerStep());
                o.put("native_allocs_per_step", m.nativeAllocsPerStep());
                o.put("heap_bytes_per_step", m.heapBytesPerStep());
                o.put("in_use_bytes", m.inUseBytes());
                o.put("cached_bytes", m.cachedBytes());
                o.put("warmup_steps", m.warmupSteps());
                o.put("warmup_s", m.warmupSeconds());
                o.put("jit_quiet", m.jitQuiet());
                putOrNull(o, "torch_page_faults_per_step", m.torchFaultsPerStep());
                if (m.torchOptimizer() != null) o.put("torch_optimizer", m.torchOptimizer());
            }
            return root.toString();
        }

        private static void putOrNull(ObjectNode o, String k, Double v) {
            if (v == null) o.putNull(k);
            else o.put(k, v);
        }
    }

    /** Runs the given models on {@code device}, then PyTorch's twins when {@code torch}; progress lines go to {@code log}. */
    public static Result run(Device device, List<StepSpec> specs, ClipBench.Timing timing, boolean torch, Consumer<String> log) {
        return run(device, specs, timing, timing != ClipBench.Timing.QUICK, torch, log);
    }

    /**
     * As {@link #run(Device, List, ClipBench.Timing, boolean, Consumer)}; {@code untilJitQuiet} extends each model's
     * warm-up until the JIT is done with its step ({@link JitWarmup}).
     */
    public static Result run(Device device, List<StepSpec> specs, ClipBench.Timing timing, boolean untilJitQuiet, boolean torch,
                             Consumer<String> log) {
        Backend backend = device.backend();
        int threads = backend instanceof CpuBackend c ? c.threads() : Runtime.getRuntime().availableProcessors();
        log.accept(String.format(Locale.ROOT, "device %s (%s)", device.name(), backend.description()));
        List<ModelResult> ballast = new ArrayList<>();
        for (StepSpec s : specs) {
            ModelResult r = measure(device, s, timing, untilJitQuiet);
            log.accept(String.format(Locale.ROOT, "ballast %-12s %9.3f ms/step (%d steps after %d warm-up steps in %.1f s%s), %.0f page faults,"
                            + " %.1f native allocations per step", s.name(), r.ballastMs(), r.reps(), r.warmupSteps(), r.warmupSeconds(),
                    untilJitQuiet && !r.jitQuiet() ? ", JIT still compiling at the cap" : "", r.faultsPerStep(), r.nativeAllocsPerStep()));
            ballast.add(r);
        }
        String note = "not run (--no-torch)";
        Map<String, TorchStepBench.Figures> tf = Map.of();
        if (torch) {
            TorchStepBench.Outcome o = TorchStepBench.run(device.name().equals("cuda") ? "cuda" : "cpu", threads, specs, timing);
            note = o.note();
            tf = o.figures();
            log.accept("torch: " + note);
        }
        List<ModelResult> out = new ArrayList<>();
        for (ModelResult r : ballast) {
            TorchStepBench.Figures f = tf.get(r.name());
            out.add(f == null ? r : new ModelResult(r.name(), r.description(), r.params(), r.ballastMs(), r.reps(), r.faultsPerStep(),
                    r.nativeAllocsPerStep(), r.heapBytesPerStep(), r.inUseBytes(), r.cachedBytes(), r.warmupSteps(), r.warmupSeconds(),
                    r.jitQuiet(), f.ms(), f.faultsPerStep(), f.optimizer()));
        }
        return new Result(device.name(), backend.description(), threads, note, out);
    }

    /** Warm-up, then timed steps; page faults, native allocations and heap bytes are counted over the timed steps. */
    static ModelResult measure(Device device, StepSpec spec, ClipBench.Timing timing, boolean untilJitQuiet) {
        Backend backend = device.backend();
        try (StepModel m = StepModel.create(spec, device, 42)) {
            JitWarmup.Outcome warm = JitWarmup.run(() -> {
                m.step();
                backend.synchronize();
            }, timing.minWarmup(), timing.warmupSeconds(), untilJitQuiet, WARMUP_CAP_SECONDS);
            List<Double> ms = new ArrayList<>();
            double spent = 0;
            long faults0 = minorFaults(), native0 = nativeAllocations(backend), heap0 = threadHeapBytes();
            while (ms.size() < timing.minReps() || (spent < timing.targetSeconds() && ms.size() < timing.maxReps())) {
                long t0 = System.nanoTime();
                m.step();
                backend.synchronize();
                double t = (System.nanoTime() - t0) / 1e6;
                ms.add(t);
                spent += t / 1e3;
            }
            int n = ms.size();
            double faults = (minorFaults() - faults0) / (double) n;
            double natives = (nativeAllocations(backend) - native0) / (double) n;
            double heap = (threadHeapBytes() - heap0) / (double) n;
            long[] mem = memory(backend);
            return new ModelResult(spec.name(), spec.description(), m.module().parameterCount(), ClipBench.median(ms), n, faults, natives,
                    heap, mem[0], mem[1], warm.steps(), warm.seconds(), warm.quiet(), null, null, null);
        }
    }

    /** Minor page faults of this process so far (field 10 of /proc/self/stat), or 0 where there is no /proc. */
    static long minorFaults() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[7]); // fields after the command: state is field 3, minflt field 10
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static long nativeAllocations(Backend b) {
        if (b instanceof CpuBackend c) return c.memoryStats().libcAllocations();
        if (b instanceof CudaBackend c) return c.memoryStats().driverAllocations();
        return 0;
    }

    private static long[] memory(Backend b) {
        if (b instanceof CpuBackend c) return new long[]{c.memoryStats().inUseBytes(), c.memoryStats().cachedBytes()};
        if (b instanceof CudaBackend c) return new long[]{c.memoryStats().allocated(), c.memoryStats().reserved() - c.memoryStats().allocated()};
        return new long[]{b.allocatedBytes(), 0};
    }

    private static long threadHeapBytes() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t) return t.getCurrentThreadAllocatedBytes();
        return 0;
    }

}
