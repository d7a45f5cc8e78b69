package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Strided;
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
 * The bandwidth ceiling for {@link NormBenchmark} and {@link FusedAdamBenchmark}: the CPU backend's plain
 * {@code copy} of one contiguous F32 buffer holding as many bytes as the named layout ({@link Fixture#bytes}).
 * Copy bandwidth = 2 * bytes / time (it reads and writes every byte).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CopyBenchmark {

    @Param({Fixture.SMALL, Fixture.ONE_64MB})
    public String layout;

    private Fixture fx;
    private Strided src, dst;

    @Setup(Level.Trial)
    public void setUp() {
        fx = new Fixture();
        long n = Fixture.bytes(layout) / 4;
        src = fx.randn(java.util.List.of(new long[] {n})).getFirst();
        dst = fx.empty(DType.F32, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fx.close();
    }

    @Benchmark
    public Strided copy() {
        fx.device.backend().copy(src, dst);
        return dst;
    }
}
