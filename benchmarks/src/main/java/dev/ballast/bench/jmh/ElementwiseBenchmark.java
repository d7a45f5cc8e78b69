package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH benchmark of elementwise add and a full sum over 64 MB of random F32 per operand on the CPU backend,
 * through the Tensor API. {@code add} accumulates {@code out += b} in place so that allocation is not timed (values
 * grow linearly, never overflow in a run). GB/s: add moves 3 x 64 MB (two reads, one write), sum reads 64 MB.
 *
 * <p>Run with {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp cli/target/ballast.jar
 * org.openjdk.jmh.Main ElementwiseBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class ElementwiseBenchmark {
    static final long ELEMENTS = 64L * 1024 * 1024 / 4;

    private Tensor a, b, out;

    @Setup(Level.Trial)
    public void setUp() {
        Device cpu = Device.cpu();
        Generator gen = new Generator(11);
        a = Tensor.randn(gen, cpu, ELEMENTS);
        b = Tensor.randn(gen, cpu, ELEMENTS);
        out = Tensor.empty(cpu, DType.F32, ELEMENTS).copyFrom(a);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        out.close();
    }

    /** out += b over 64 MB operands. */
    @Benchmark
    public Tensor add() {
        return out.addInPlace(b);
    }

    /** The sum of all 16M elements (pairwise, deterministic). */
    @Benchmark
    public double sum() {
        try (Tensor s = a.sum()) {
            return s.item();
        }
    }
}
