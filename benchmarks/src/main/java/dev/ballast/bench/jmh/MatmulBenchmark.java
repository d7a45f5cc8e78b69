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
 * JMH benchmark of {@link CpuMatmul#gemmF32} on square row-major {@code size x size} products of
 * random data, using a pool with one thread per core. GFLOP/s = {@code 2 size^3 / time}.
 *
 * <p>Run with {@code java --add-modules jdk.incubator.vector -cp <benchmarks classpath>
 * org.openjdk.jmh.Main MatmulBenchmark} (add {@code -p size=1024} for one size).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulBenchmark {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"256", "512", "1024", "2048"})
    public int size;

    private Arena arena;
    private ForkJoinPool pool;
    private MemorySegment a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        pool = new ForkJoinPool(Runtime.getRuntime().availableProcessors());
        long elems = (long) size * size;
        a = arena.allocate(4 * elems, 64);
        b = arena.allocate(4 * elems, 64);
        c = arena.allocate(4 * elems, 64);
        SplittableRandom rnd = new SplittableRandom(7);
        for (long e = 0; e < elems; e++) {
            a.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
            b.set(F, 4 * e, (float) rnd.nextDouble(-1, 1));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdown();
        arena.close();
    }

    @Benchmark
    public MemorySegment gemmF32() {
        CpuMatmul.gemmF32(1, size, size, size, a, 0, 0, size, 1, b, 0, 0, size, 1, c, 0, 0, size, pool);
        return c;
    }
}
