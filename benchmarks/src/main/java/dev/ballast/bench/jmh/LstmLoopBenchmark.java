package dev.ballast.bench.jmh;

import dev.ballast.cpu.kernel.LstmBackwardF32;
import dev.ballast.cpu.kernel.LstmForwardF32;
import dev.ballast.cpu.kernel.StepRows;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
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
 * The CPU backend's whole-layer F32 LSTM time loops alone, on one thread: {@link LstmForwardF32} and
 * {@link LstmBackwardF32} for one row group of {@code rows} batch rows (the {@code lstm} step model's 64 rows split over
 * 2 threads gives 32 per thread), each call packing {@code W_hh} first as the layer does. Inputs are random normal
 * (the backward's gates and states come from a forward run over them). A product of the loop is
 * {@code rows x H} times {@code H x 4H} (forward) or {@code rows x 4H} times {@code 4H x H} (backward) per step, so
 * GFLOP/s = {@code 2 * rows * 4H * H * T / time}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class LstmLoopBenchmark {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Param({"128"})
    public int hidden;

    @Param({"50"})
    public int time;

    @Param({"32"})
    public int rows;

    private Arena arena;
    private MemorySegment w, xw, bias, h0, c0, gates, out, gOut, dPre, dc, dh0;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        Random r = new Random(11);
        int h = hidden, m = rows, t = time;
        w = randn(r, 4L * h * h, 0.1f);
        xw = randn(r, (long) m * t * 4 * h, 1f);
        bias = randn(r, 4L * h, 1f);
        h0 = randn(r, (long) m * h, 0.5f);
        c0 = randn(r, (long) m * h, 0.5f);
        gates = arena.allocate(4L * m * t * 4 * h, 64);
        out = arena.allocate(4L * m * t * 2 * h, 64);
        gOut = randn(r, (long) m * t * 2 * h, 1f);
        dPre = arena.allocate(4L * m * t * 4 * h, 64);
        dc = arena.allocate(4L * m * h, 64);
        dh0 = arena.allocate(4L * m * h, 64);
        forward();
    }

    private MemorySegment randn(Random r, long n, float scale) {
        MemorySegment s = arena.allocate(4 * n, 64);
        for (long i = 0; i < n; i++) s.setAtIndex(F, i, (float) r.nextGaussian() * scale);
        return s;
    }

    private StepRows sequence(MemorySegment s, int n) { return new StepRows(s, 0, (long) time * n, n); }

    private StepRows state(MemorySegment s) { return new StepRows(s, 0, hidden, 0); }

    @TearDown(Level.Trial)
    public void tearDown() { arena.close(); }

    @Benchmark
    public MemorySegment forward() {
        int h = hidden;
        float[] packed = LstmForwardF32.pack(w, 0, h, 1, h);
        LstmForwardF32.run(rows, h, time, packed, sequence(xw, 4 * h), new StepRows(bias, 0, 0, 0), state(h0), state(c0),
                sequence(gates, 4 * h), sequence(out, 2 * h));
        return out;
    }

    @Benchmark
    public MemorySegment backward() {
        int h = hidden;
        float[] packed = LstmBackwardF32.pack(w, 0, h, 1, h);
        LstmBackwardF32.run(rows, h, time, packed, sequence(gates, 4 * h), sequence(out, 2 * h), state(c0), sequence(gOut, 2 * h),
                sequence(dPre, 4 * h), state(dc), state(dh0));
        return dPre;
    }
}
