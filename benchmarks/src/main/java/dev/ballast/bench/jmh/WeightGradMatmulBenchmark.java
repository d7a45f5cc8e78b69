package dev.ballast.bench.jmh;

import dev.ballast.cpu.matmul.CpuMatmul;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
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
 * JMH benchmark of {@link CpuMatmul#gemmF32} on weight-gradient shapes: {@code C = A B} with A ({@code m x k}) a
 * transposed view of a row-major {@code k x m} matrix (unit row stride, like {@code dY^T}) and B ({@code k x n})
 * row-major. Shapes {@code MxNxK}: the LSTM h128 step's {@code dW_ih = dPre^T x} (512x2x3200) and
 * {@code dW_hh = prev^T dPre} (128x512x3200), and mlp50's {@code dW = dY^T X} at batch 256 (512x512x256).
 * {@code threads} is the pool's parallelism (1 = the calling thread only). GFLOP/s = {@code 2 m n k / time}.
 *
 * <p>Run with {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * cli/target/ballast.jar org.openjdk.jmh.Main WeightGradMatmulBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class WeightGradMatmulBenchmark {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"512x2x3200", "128x512x3200", "512x512x256"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private int m, n, k;
    private Arena arena;
    private ForkJoinPool pool;
    private MemorySegment a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split("x");
        m = Integer.parseInt(s[0]);
        n = Integer.parseInt(s[1]);
        k = Integer.parseInt(s[2]);
        arena = Arena.ofShared();
        pool = threads > 1 ? new ForkJoinPool(threads) : null;
        a = arena.allocate(4L * m * k, 64);
        b = arena.allocate(4L * k * n, 64);
        c = arena.allocate(4L * m * n, 64);
        SplittableRandom rnd = new SplittableRandom(7);
        for (long e = 0; e < (long) m * k; e++) a.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
        for (long e = 0; e < (long) k * n; e++) b.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (pool != null) pool.shutdown();
        arena.close();
    }

    /** A is the transposed view: element (i, p) at {@code i + p*m}. */
    @Benchmark
    public MemorySegment transposedA() {
        CpuMatmul.gemmF32(1, m, n, k, a, 0, 0, 1, m, b, 0, 0, n, 1, c, 0, 0, n, pool);
        return c;
    }
}
