package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.assertClose;
import static dev.ballast.cuda.GpuBackends.download;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.MultiTensorOps.AdamParams;
import dev.ballast.engine.backend.MultiTensorOps.SgdParams;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused multi-tensor ops of the CUDA backend against their CPU twin (the cpu backend's
 * {@link MultiTensorOps}) on fresh random inputs: many tensors of odd sizes (empty, unaligned, above 2^20
 * elements), f32/f16/bf16 norms, NaN and infinity, the skip flag (raw bits unchanged), bitwise determinism,
 * a tensor above 2^31 elements, and one fused step captured in a CUDA graph. Tagged "gpu": skipped with the
 * reason where no GPU answers or no CPU backend is on the class path.
 */
@Tag("gpu")
class CudaFusedParityTest {
    private final Random rnd = new Random(System.nanoTime());
    private final List<Storage> owned = new ArrayList<>();

    /** Sizes that hit every edge of the chunking: empty, tails, exact chunks, one above 2^20. */
    /** Tensor sizes around the chunk boundaries; the 1M one is 70,001 on a small (emulated) device. */
    private static int[] sizes() {
        return new int[] {0, 1, 3, 7, 31, 1000, 32767, 32768, 32769, 100_003,
                GpuBackends.sized("largest fused tensor", (1 << 20) + 17, 70_001), 5, 0, 65_537};
    }

    @AfterEach
    void release() {
        owned.forEach(Storage::release);
        owned.clear();
    }

    // ------------------------------------------------------------------ helpers

    private static MultiTensorOps ops(Backend b) {
        assertTrue(b.multiTensorOps().isPresent(), b.name() + " backend should offer MultiTensorOps");
        return b.multiTensorOps().get();
    }

    /** A contiguous view of {@code v} in dtype t on b; {@code offset} leading elements make it unaligned. */
    private Strided put(Backend b, DType t, double[] v, int offset) {
        return GpuBackends.uploadAt(b, t, v, offset, 0.25, owned);
    }

    private Strided put(Backend b, DType t, double... v) { return put(b, t, v, 0); }

    private double[] gaussian(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x = rnd.nextGaussian() * scale;
            v[i] = x == 0 ? scale : x;
        }
        return v;
    }

    private double[] positive(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = scale * (0.1 + rnd.nextDouble());
        return v;
    }

    /** The raw bytes of a view (bit comparisons: NaN payloads and signed zeros included). */
    private static byte[] raw(Strided v) {
        byte[] out = new byte[(int) (v.numel() * v.dtype().byteSize())];
        v.storage().backend().copyToHost(v.storage(), v.offset() * v.dtype().byteSize(), MemorySegment.ofArray(out), out.length);
        return out;
    }

    private static byte[] raw(List<Strided> vs) {
        var out = new java.io.ByteArrayOutputStream();
        for (Strided v : vs) out.writeBytes(raw(v));
        return out.toByteArray();
    }

    // ------------------------------------------------------------------ norm

    /** Inputs of one norm case: values and dtype per tensor, and each tensor's unaligning offset. */
    private record NormCase(List<double[]> data, List<DType> types, int[] offsets) {}

    private NormCase normCase(DType only) {
        List<double[]> data = new ArrayList<>();
        List<DType> types = new ArrayList<>();
        DType[] mix = {DType.F32, DType.F16, DType.BF16};
        int[] sizes = sizes();
        int[] offsets = new int[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            data.add(gaussian(sizes[i], 0.5 + 2 * rnd.nextDouble()));
            types.add(only != null ? only : mix[i % 3]);
            offsets[i] = i % 4 == 1 ? 1 + rnd.nextInt(7) : 0;
        }
        return new NormCase(data, types, offsets);
    }

    /** {total[2], perTensor[n], clip out[3]} from one backend. */
    private double[][] norm(Backend b, NormCase c, NormKind kind, double p, double maxNorm) {
        List<Strided> views = new ArrayList<>();
        for (int i = 0; i < c.data().size(); i++) views.add(put(b, c.types().get(i), c.data().get(i), c.offsets()[i]));
        Strided total = put(b, DType.F64, 7, 7), per = put(b, DType.F64, new double[views.size()]), out = put(b, DType.F32, 9, 9, 9);
        b.fill(per, 12345); // must be written, not left over
        ops(b).multiTensorNorm(views, kind, p, per, total);
        ops(b).clipCoefficient(total, kind, p, maxNorm, out);
        return new double[][] {download(total), download(per), download(out)};
    }

    private static final NormKind[] KINDS = NormKind.values();

    private static double pFor(NormKind k) {
        return switch (k) { case L1 -> 1; case L2 -> 2; case INF -> Double.POSITIVE_INFINITY; case P -> 3.5; };
    }

    @Test
    void normAndCoefficientMatchTheCpuTwinInEveryDtypeAndKind() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, null}) {
            NormCase c = normCase(t);
            for (NormKind kind : KINDS) {
                String what = (t == null ? "mixed" : t.label()) + " " + kind;
                double p = pFor(kind), maxNorm = 1 + 10 * rnd.nextDouble();
                double[][] want = norm(cpu, c, kind, p, maxNorm), got = norm(cuda, c, kind, p, maxNorm);
                double rtol = kind == NormKind.INF ? 0 : 2e-5;
                assertClose(want[0], got[0], rtol, 0, what + " total");
                assertClose(want[1], got[1], rtol, 0, what + " per tensor");
                assertClose(want[2], got[2], rtol, 0, what + " clip out");
                assertEquals(0, got[0][1], what + ": no non-finite values");
                assertEquals(0, got[1][0], what + ": an empty tensor's accumulator is 0");
                assertTrue(got[0][0] > 0, what);
            }
        }
    }

    @Test
    void nonFiniteValuesAreCountedAndPropagate() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        for (boolean withNan : new boolean[] {true, false}) {
            NormCase c = normCase(null);
            int planted = 0;
            for (int i = 0; i < c.data().size(); i++) {
                double[] v = c.data().get(i);
                if (v.length < 3 || rnd.nextBoolean()) continue;
                v[rnd.nextInt(v.length - 1)] = Double.POSITIVE_INFINITY;
                v[v.length - 1] = withNan && i % 2 == 0 ? Double.NaN : Double.NEGATIVE_INFINITY;
                planted += 2;
            }
            if (planted == 0) { c.data().get(10)[0] = Double.NaN; c.data().get(10)[1] = Double.NEGATIVE_INFINITY; planted = 2; }
            boolean nan = Arrays.stream(c.data().toArray(double[][]::new)).flatMapToDouble(Arrays::stream).anyMatch(Double::isNaN);
            for (NormKind kind : KINDS) {
                String what = (nan ? "NaN " : "inf ") + kind;
                double[][] want = norm(cpu, c, kind, pFor(kind), 1.0), got = norm(cuda, c, kind, pFor(kind), 1.0);
                assertEquals(planted, got[0][1], what + ": non-finite count");
                assertClose(want[0], got[0], 2e-5, 0, what + " total");
                assertClose(want[1], got[1], 2e-5, 0, what + " per tensor");
                assertClose(want[2], got[2], 2e-5, 0, what + " clip out");
                assertEquals(1, got[2][2], what + ": found flag");
                if (nan) {
                    assertTrue(Double.isNaN(got[2][0]) && Double.isNaN(got[2][1]), what + ": NaN norm gives NaN coefficient");
                } else {
                    assertEquals(Double.POSITIVE_INFINITY, got[2][0], what + ": infinite norm");
                    assertEquals(0, got[2][1], what + ": coefficient of an infinite norm");
                }
            }
        }
    }

    @Test
    void normIsBitwiseDeterministic() {
        CudaBackend cuda = GpuBackends.cuda();
        NormCase c = normCase(null);
        for (NormKind kind : KINDS) {
            double[][] a = norm(cuda, c, kind, pFor(kind), 1), b = norm(cuda, c, kind, pFor(kind), 1);
            for (int i = 0; i < 3; i++)
                assertArrayEquals(Arrays.stream(a[i]).mapToLong(Double::doubleToRawLongBits).toArray(),
                        Arrays.stream(b[i]).mapToLong(Double::doubleToRawLongBits).toArray(), kind + " run to run, part " + i);
        }
    }

    @Test
    void emptyListGivesZeros() {
        CudaBackend cuda = GpuBackends.cuda();
        Strided total = put(cuda, DType.F64, 5, 5);
        ops(cuda).multiTensorNorm(List.of(), NormKind.L2, 2, null, total);
        assertArrayEquals(new double[] {0, 0}, download(total));
    }

    /** 64-bit indexing: a bf16 tensor of 2^31 + 4097 elements, one NaN planted at its very end. */
    @Test
    void tensorAboveTwoToThe31Elements() {
        CudaBackend cuda = GpuBackends.cuda();
        long n = (1L << 31) + 4097;
        long[] mem = cuda.driver().memGetInfo();
        Assumptions.assumeTrue(mem[0] > 3 * n, "needs " + (3 * n >> 20) + " MiB free on the GPU, has " + (mem[0] >> 20));
        Storage s = cuda.allocate(2 * n);
        owned.add(s);
        Strided x = Strided.contiguous(s, DType.BF16, 0, n);
        cuda.fill(x, 0.5);
        Strided total = put(cuda, DType.F64, 1, 1), per = put(cuda, DType.F64, 1);
        ops(cuda).multiTensorNorm(List.of(x), NormKind.L1, 1, per, total);
        assertArrayEquals(new double[] {0.5 * n, 0}, download(total), "L1 of 0.5 everywhere is exact");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment nan = a.allocate(2);
            nan.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, (short) 0x7fc0);
            cuda.copyFromHost(nan, s, 2 * (n - 1), 2);
        }
        ops(cuda).multiTensorNorm(List.of(x), NormKind.INF, Double.POSITIVE_INFINITY, per, total);
        double[] t = download(total);
        assertTrue(Double.isNaN(t[0]), "the NaN at element " + (n - 1) + " is seen");
        assertEquals(1, t[1]);
    }

    // ------------------------------------------------------------------ scale

    @Test
    void scaleMatchesTheCpuTwinBitForBit() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        List<double[]> data = new ArrayList<>();
        for (int n : sizes()) data.add(gaussian(n, 3));
        double coef = 0.1 + rnd.nextDouble();
        List<byte[]> results = new ArrayList<>();
        for (Backend b : new Backend[] {cpu, cuda}) {
            List<Strided> views = new ArrayList<>();
            for (int i = 0; i < data.size(); i++) views.add(put(b, DType.F32, data.get(i), i % 3 == 1 ? 1 : 0));
            byte[] before = raw(views);
            Strided c = put(b, DType.F32, 7, coef, 7).withOffset(1).withLayout(new long[0], new long[0]);
            ops(b).multiTensorScale(views, c);
            results.add(raw(views));
            assertFalse(Arrays.equals(before, results.getLast()), b.name() + ": scaling changed the values");
        }
        assertArrayEquals(results.get(0), results.get(1), "x * coefficient, f32, same bits");
    }

    // ------------------------------------------------------------------ optimizer steps

    /** Optimizer state on one backend: params, grads, two companion lists, and the steering scalars. */
    private record State(List<Strided> p, List<Strided> g, List<Strided> a, List<Strided> b, Strided coef, Strided skip, Strided step) {
        List<Strided> all() {
            List<Strided> l = new ArrayList<>(p);
            l.addAll(g); l.addAll(a); l.addAll(b); l.add(step);
            return l;
        }
    }

    private record Init(List<double[]> p, List<double[]> g, List<double[]> a, List<double[]> b, double coef, double step) {}

    private Init init(double step) {
        List<double[]> p = new ArrayList<>(), g = new ArrayList<>(), a = new ArrayList<>(), b = new ArrayList<>();
        for (int n : sizes()) {
            p.add(gaussian(n, 1));
            g.add(gaussian(n, 0.1));
            a.add(gaussian(n, 0.01));
            b.add(positive(n, 1e-4));
        }
        return new Init(p, g, a, b, 0.3 + 0.6 * rnd.nextDouble(), step);
    }

    private State state(Backend be, Init in, double skip) {
        List<Strided> p = new ArrayList<>(), g = new ArrayList<>(), a = new ArrayList<>(), b = new ArrayList<>();
        for (int i = 0; i < in.p().size(); i++) {
            int off = i % 5 == 2 ? 3 : 0;
            p.add(put(be, DType.F32, in.p().get(i), off));
            g.add(put(be, DType.F32, in.g().get(i), off));
            a.add(put(be, DType.F32, in.a().get(i), off));
            b.add(put(be, DType.F32, in.b().get(i), off));
        }
        return new State(p, g, a, b, put(be, DType.F32, in.coef()), put(be, DType.F32, skip), put(be, DType.F64, in.step()));
    }

    private static void adam(Backend be, State s, AdamParams h, LrSchedule sched) {
        ops(be).fusedAdam(s.p(), s.g(), s.a(), s.b(), h, sched, s.coef(), s.skip(), s.step());
    }

    private static void sgd(Backend be, State s, SgdParams h, LrSchedule sched, boolean buffers) {
        ops(be).fusedSgd(s.p(), s.g(), buffers ? s.a() : null, h, sched, s.coef(), s.skip(), s.step());
    }

    /** Moments bit-identical on the first step; params within float rounding of the host-side lr/bias terms. */
    private static void compareState(State want, State got, boolean momentsExact, String what) {
        for (int i = 0; i < want.p().size(); i++) {
            assertClose(download(want.p().get(i)), download(got.p().get(i)), 2e-6, 1e-7, what + " param " + i);
            if (momentsExact) {
                assertArrayEquals(raw(want.a().get(i)), raw(got.a().get(i)), what + " first moment / buffer " + i + " bits");
                assertArrayEquals(raw(want.b().get(i)), raw(got.b().get(i)), what + " second moment " + i + " bits");
            } else {
                assertClose(download(want.a().get(i)), download(got.a().get(i)), 1e-5, 1e-9, what + " moment " + i);
                assertClose(download(want.b().get(i)), download(got.b().get(i)), 1e-5, 1e-12, what + " moment " + i);
            }
        }
        assertArrayEquals(download(want.step()), download(got.step()), what + " step counter");
    }

    @Test
    void adamMatchesTheCpuTwin() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        LrSchedule[] schedules = {LrSchedule.cosine(1e-3, 5, 1e-5).withWarmup(2), LrSchedule.step(2e-3, 2, 0.5), LrSchedule.constant(5e-4)};
        for (boolean decoupled : new boolean[] {true, false}) {
            for (LrSchedule sched : schedules) {
                AdamParams h = new AdamParams(0.9, 0.999, 1e-8, 0.01 + 0.05 * rnd.nextDouble(), decoupled);
                Init in = init(rnd.nextInt(4));
                State want = state(cpu, in, 0), got = state(cuda, in, 0);
                for (int step = 0; step < 3; step++) {
                    adam(cpu, want, h, sched);
                    adam(cuda, got, h, sched);
                    compareState(want, got, step == 0, "adam decoupled=" + decoupled + " " + sched.kind() + " step " + step);
                }
                assertEquals(in.step() + 3, download(got.step())[0]);
                release();
            }
        }
    }

    @Test
    void sgdMatchesTheCpuTwin() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        for (boolean nesterov : new boolean[] {false, true}) {
            for (boolean buffers : new boolean[] {true, false}) {
                SgdParams h = buffers ? new SgdParams(0.9, nesterov ? 0 : 0.1, 1e-3, nesterov) : new SgdParams(0, 0, 1e-3, false);
                LrSchedule sched = LrSchedule.step(0.05, 2, 0.5).withWarmup(1);
                Init in = init(0); // the first step copies the gradient into the buffer
                State want = state(cpu, in, 0), got = state(cuda, in, 0);
                for (int step = 0; step < 3; step++) {
                    sgd(cpu, want, h, sched, buffers);
                    sgd(cuda, got, h, sched, buffers);
                    compareState(want, got, step == 0, "sgd nesterov=" + nesterov + " buffers=" + buffers + " step " + step);
                }
                release();
            }
        }
    }

    @Test
    void skipLeavesEverythingBitIdentical() {
        CudaBackend cuda = GpuBackends.cuda();
        Init in = init(7);
        for (double skip : new double[] {1, Double.NaN, -0.5}) {
            State s = state(cuda, in, skip);
            byte[] before = raw(s.all());
            adam(cuda, s, new AdamParams(0.9, 0.999, 1e-8, 0.01, true), LrSchedule.constant(1e-2));
            assertArrayEquals(before, raw(s.all()), "adam with skip=" + skip + " wrote something");
            sgd(cuda, s, new SgdParams(0.9, 0, 0.01, false), LrSchedule.constant(1e-2), true);
            assertArrayEquals(before, raw(s.all()), "sgd with skip=" + skip + " wrote something");
            release();
        }
        State s = state(cuda, in, 0); // the same call with skip = 0 does move the state
        byte[] before = raw(s.p());
        adam(cuda, s, new AdamParams(0.9, 0.999, 1e-8, 0.01, true), LrSchedule.constant(1e-2));
        assertFalse(Arrays.equals(before, raw(s.p())), "skip=0 must update");
        assertEquals(8, download(s.step())[0]);
    }

    @Test
    void optimizerStepsAreBitwiseDeterministic() {
        CudaBackend cuda = GpuBackends.cuda();
        Init in = init(0);
        List<byte[]> runs = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            State s = state(cuda, in, 0);
            for (int k = 0; k < 2; k++) {
                adam(cuda, s, new AdamParams(0.9, 0.99, 1e-8, 0.1, false), LrSchedule.cosine(1e-3, 10, 0).withWarmup(1));
                sgd(cuda, s, new SgdParams(0.5, 0, 0, true), LrSchedule.constant(1e-2), true);
            }
            runs.add(raw(s.all()));
        }
        assertArrayEquals(runs.get(0), runs.get(1), "two runs from the same state");
    }

    // ------------------------------------------------------------------ graph capture

    /**
     * The no-host-sync design: norm, clip coefficient and a fused Adam step reading coefficient and found-flag
     * from device memory, captured once and replayed; the replay matches the same calls made eagerly, and a
     * NaN gradient makes the replayed step a no-op that leaves the step counter alone.
     */
    @Test
    void oneFusedStepCapturedInAGraphReplays() {
        CudaBackend cuda = GpuBackends.cuda();
        AdamParams h = new AdamParams(0.9, 0.999, 1e-8, 0.01, true);
        LrSchedule sched = LrSchedule.cosine(1e-3, 10, 0).withWarmup(2);
        Init in = init(0);
        State eager = state(cuda, in, 0), graph = state(cuda, in, 0);
        Strided[] eagerScratch = {put(cuda, DType.F64, 0, 0), put(cuda, DType.F32, 0, 0, 0)};
        Strided[] graphScratch = {put(cuda, DType.F64, 0, 0), put(cuda, DType.F32, 0, 0, 0)};
        Runnable eagerStep = () -> fusedStep(cuda, eager, eagerScratch, h, sched);
        Runnable graphStep = () -> fusedStep(cuda, graph, graphScratch, h, sched);

        graphStep.run(); // warm-up: modules loaded, tables cached, before capture
        eagerStep.run();
        cuda.synchronize();
        try (CudaGraph step = CudaGraph.capture(cuda, graphStep)) {
            for (int k = 0; k < 3; k++) {
                step.replay();
                eagerStep.run();
            }
            assertArrayEquals(raw(eager.all()), raw(graph.all()), "3 replays equal 3 eager steps, bit for bit");
            assertEquals(4, download(graph.step())[0]);

            Strided bad = graph.g().get(3);
            try (Arena a = Arena.ofConfined()) { // outside the graph: a NaN gradient appears
                MemorySegment nan = a.allocate(4);
                nan.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, Float.NaN);
                cuda.copyFromHost(nan, bad.storage(), bad.offset() * 4, 4);
            }
            byte[] params = raw(graph.p()), moments = raw(graph.a());
            step.replay();
            assertArrayEquals(params, raw(graph.p()), "a non-finite gradient skips the replayed step");
            assertArrayEquals(moments, raw(graph.a()));
            assertEquals(4, download(graph.step())[0], "a skipped step leaves the counter");
            assertEquals(1, download(graphScratch[1])[2], "found flag");
        }
    }

    /** A fused op on a tensor list never seen before would upload its chunk table inside the graph: refused, with the remedy. */
    @Test
    void captureRefusesAFirstTimeChunkTable() {
        CudaBackend cuda = GpuBackends.cuda();
        Init in = init(0);
        State fresh = state(cuda, in, 0);
        Strided[] scratch = {put(cuda, DType.F64, 0, 0), put(cuda, DType.F32, 0, 0, 0)};
        var e = assertThrows(IllegalStateException.class, () -> CudaGraph.capture(cuda,
                () -> fusedStep(cuda, fresh, scratch, new AdamParams(0.9, 0.999, 1e-8, 0, true), LrSchedule.constant(1e-3))));
        assertTrue(e.getMessage().contains("chunk table") && e.getMessage().contains("once before capturing"), e.getMessage());
        fusedStep(cuda, fresh, scratch, new AdamParams(0.9, 0.999, 1e-8, 0, true), LrSchedule.constant(1e-3)); // the stream still works
        cuda.synchronize();
    }

    /** Norm of the grads, coefficient, and Adam reading coefficient (out[1]) and skip (out[2] = found) on the device. */
    private static void fusedStep(CudaBackend cuda, State s, Strided[] scratch, AdamParams h, LrSchedule sched) {
        Strided total = scratch[0], out = scratch[1];
        ops(cuda).multiTensorNorm(s.g(), NormKind.L2, 2, null, total);
        ops(cuda).clipCoefficient(total, NormKind.L2, 2, 0.5, out);
        Strided coef = out.withOffset(1).withLayout(new long[0], new long[0]);
        Strided found = out.withOffset(2).withLayout(new long[0], new long[0]);
        ops(cuda).fusedAdam(s.p(), s.g(), s.a(), s.b(), h, sched, coef, found, s.step());
    }
}
