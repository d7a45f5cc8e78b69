package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Strided;
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
 * JMH benchmark of the CPU backend's {@code fusedAdam} (AdamW, one pass reading param, grad and both moments and
 * writing param and moments: 28 bytes per element) on the {@link Fixture} layouts: the plain step, and the clipped
 * step (norm pass + coefficient + AdamW reading the coefficient and skip flag from memory), whose difference is
 * what clipping costs. Effective bandwidth = 28 * elements / time; compare with {@link CopyBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class FusedAdamBenchmark {

    private static final MultiTensorOps.AdamParams ADAMW = new MultiTensorOps.AdamParams(0.9, 0.999, 1e-8, 0.01, true);
    private static final LrSchedule LR = LrSchedule.constant(1e-6);

    @Param({Fixture.SMALL, Fixture.ONE_64MB})
    public String layout;

    private Fixture fx;
    private List<Strided> params, grads, m, v;
    private Strided total, stats, coefficient, skip, step;

    @Setup(Level.Trial)
    public void setUp() {
        fx = new Fixture();
        List<long[]> shapes = Fixture.shapes(layout);
        params = fx.randn(shapes);
        grads = fx.randn(shapes);
        m = fx.zeros(shapes);
        v = fx.zeros(shapes);
        total = fx.empty(DType.F64, 2);
        stats = fx.empty(DType.F32, 3);
        coefficient = stats.withLayout(new long[0], new long[0]).withOffset(1);
        skip = stats.withLayout(new long[0], new long[0]).withOffset(2);
        step = fx.zeros(DType.F64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fx.close();
    }

    @Benchmark
    public Strided adamw() {
        fx.fused().fusedAdam(params, grads, m, v, ADAMW, LR, null, null, step);
        return step;
    }

    @Benchmark
    public Strided clipAdamw() {
        MultiTensorOps f = fx.fused();
        f.multiTensorNorm(grads, NormKind.L2, 2, null, total);
        f.clipCoefficient(total, NormKind.L2, 2, 1.0, stats);
        f.fusedAdam(params, grads, m, v, ADAMW, LR, coefficient, skip, step);
        return step;
    }
}
