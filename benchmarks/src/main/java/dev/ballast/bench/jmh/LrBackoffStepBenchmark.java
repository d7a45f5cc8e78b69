package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH benchmark of one AdamW step through {@code Optimizer.stepAsync} on the CPU backend's fused path, as the gradient
 * chain runs it, with the explosion guard's lr backoff configured ({@code backoff=factor}: a 0-d F32 lr factor passed
 * with every step, as {@code --guard backoff:F:N} does whether or not a cut is in effect) and without it
 * ({@code backoff=none}). The factor is read inside the fused update, so the two should cost the same; with the
 * mixed-precision working copies ({@code copies=bf16}) too. Parameters: an MLP-like list of 13 tensors, 4.2 M floats
 * (AdamW moves 28 bytes per element: about 118 MB a step).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class LrBackoffStepBenchmark {

    @Param({"none", "factor"})
    public String backoff;

    @Param({"none", "bf16"})
    public String copies;

    private final List<Tensor> owned = new ArrayList<>();
    private Optimizer opt;
    private Tensor factor;

    @Setup(Level.Trial)
    public void setUp() {
        Device cpu = Device.cpu();
        Generator gen = new Generator(7);
        List<Tensor> params = new ArrayList<>();
        long[][] shapes = {{1024, 1024}, {1024}, {1024, 1024}, {1024}, {1024, 1024}, {1024}, {1024, 1024}, {1024},
                {256, 1024}, {256}, {10, 256}, {10}, {1000, 1}};
        for (long[] s : shapes) {
            Tensor p = keep(Tensor.randn(gen, cpu, s).requiresGrad(true));
            p.setGrad(keep(Tensor.randn(gen, cpu, s)));
            params.add(p);
        }
        opt = new AdamW(params, 1e-6);
        if (copies.equals("bf16")) opt.keepWorkingCopies(DType.BF16);
        factor = "factor".equals(backoff) ? keep(Tensor.scalar(cpu, DType.F32, 0.5)) : null;
    }

    private Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        opt.close();
        for (Tensor t : owned) t.close();
        owned.clear();
    }

    @Benchmark
    public Optimizer step() {
        opt.stepAsync(null, null, factor);
        return opt;
    }
}
