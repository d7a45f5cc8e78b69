package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
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
 * JMH benchmark of the CPU backend's fused L2 {@code multiTensorNorm} (one read pass, with the non-finite count)
 * over 10,000 tensors of 1,000 floats and over one 64 MB tensor. Read bandwidth = {@link Fixture#bytes} / time
 * (40 MB and 64 MiB); set it against {@link CopyBenchmark}'s figure for the same layout, which moves twice the
 * bytes (read + write): the norm pass is at X% of copy bandwidth when
 * {@code X = 100 * (bytes / t_norm) / (2 * bytes / t_copy) = 50 * t_copy / t_norm}.
 *
 * <p>Run with {@code java --add-modules jdk.incubator.vector -cp <benchmarks classpath> org.openjdk.jmh.Main
 * 'NormBenchmark|CopyBenchmark'}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class NormBenchmark {

    @Param({Fixture.SMALL, Fixture.ONE_64MB})
    public String layout;

    private Fixture fx;
    private List<Strided> grads;
    private Strided total, stats;

    @Setup(Level.Trial)
    public void setUp() {
        fx = new Fixture();
        grads = fx.randn(Fixture.shapes(layout));
        total = fx.empty(DType.F64, 2);
        stats = fx.empty(DType.F32, 3);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fx.close();
    }

    /** The norm pass alone. */
    @Benchmark
    public Strided norm() {
        fx.fused().multiTensorNorm(grads, NormKind.L2, 2, null, total);
        return total;
    }

    /** The norm pass and the coefficient finish, as clip_grad_norm_ needs them. */
    @Benchmark
    public Strided normAndCoefficient() {
        fx.fused().multiTensorNorm(grads, NormKind.L2, 2, null, total);
        fx.fused().clipCoefficient(total, NormKind.L2, 2, 1.0, stats);
        return stats;
    }
}
