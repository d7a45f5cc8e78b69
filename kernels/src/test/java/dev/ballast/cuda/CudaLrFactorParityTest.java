package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.assertClose;
import static dev.ballast.cuda.GpuBackends.download;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.MultiTensorOps.AdamParams;
import dev.ballast.engine.backend.MultiTensorOps.SgdParams;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The learning-rate factor of {@code fused_adam} / {@code fused_sgd} (the guard's lr backoff, a 0-d device scalar the
 * kernels read like the coefficient and the skip flag): on fresh random inputs the CUDA update with a factor matches
 * the CPU twin with the same factor (weights, moments or momentum buffers, the F16/BF16 working copies written in the
 * same pass), is bit for bit the CUDA update with a constant schedule of {@code lr * factor} and no factor, a factor of
 * 1 is bit for bit no factor, and a skipped step with a factor writes nothing. Tagged "gpu".
 */
@Tag("gpu")
class CudaLrFactorParityTest {
    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);
    private final List<Storage> owned = new ArrayList<>();

    { System.out.println("CudaLrFactorParityTest seed " + seed); }

    /** Sizes around the 32768-element chunks, one unaligned by its offset. */
    private static final int[] SIZES = {0, 1, 33, 32769, 70_001};

    @AfterEach
    void release() {
        owned.forEach(Storage::release);
        owned.clear();
    }

    private static MultiTensorOps ops(Backend b) { return b.multiTensorOps().orElseThrow(); }

    private Strided put(Backend b, DType t, double[] v, int offset) { return GpuBackends.uploadAt(b, t, v, offset, 0.25, owned); }

    private double[] gaussian(int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextGaussian() * scale;
        return v;
    }

    /** Parameters, gradients, first and second moment (or buffer), working copies (may be null), steering scalars. */
    private record State(List<Strided> p, List<Strided> g, List<Strided> a, List<Strided> b, List<Strided> copies,
                         Strided coef, Strided skip, Strided lrFactor, Strided step) {
        List<Strided> all() {
            List<Strided> l = new ArrayList<>(p);
            l.addAll(g); l.addAll(a); l.addAll(b); l.add(step);
            if (copies != null) l.addAll(copies);
            return l;
        }
    }

    private record Init(List<double[]> p, List<double[]> g, List<double[]> a, List<double[]> b, double coef) {}

    private Init init() {
        List<double[]> p = new ArrayList<>(), g = new ArrayList<>(), a = new ArrayList<>(), b = new ArrayList<>();
        for (int n : SIZES) {
            p.add(gaussian(n, 1));
            g.add(gaussian(n, 0.1));
            a.add(gaussian(n, 0.01));
            double[] v = gaussian(n, 1e-4);
            for (int i = 0; i < n; i++) v[i] = Math.abs(v[i]) + 1e-6;
            b.add(v);
        }
        return new Init(p, g, a, b, 0.3 + 0.6 * rnd.nextDouble());
    }

    /** {@code lrFactor} NaN: none passed. */
    private State state(Backend be, Init in, DType copies, double skip, double lrFactor) {
        List<Strided> p = new ArrayList<>(), g = new ArrayList<>(), a = new ArrayList<>(), b = new ArrayList<>();
        List<Strided> c = copies == null ? null : new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            int off = i == 2 ? 3 : 0;
            p.add(put(be, DType.F32, in.p().get(i), off));
            g.add(put(be, DType.F32, in.g().get(i), off));
            a.add(put(be, DType.F32, in.a().get(i), off));
            b.add(put(be, DType.F32, in.b().get(i), off));
            if (c != null) c.add(put(be, copies, new double[SIZES[i]], off));
        }
        return new State(p, g, a, b, c, put(be, DType.F32, new double[] {in.coef()}, 0), put(be, DType.F32, new double[] {skip}, 0),
                Double.isNaN(lrFactor) ? null : put(be, DType.F32, new double[] {lrFactor}, 0), put(be, DType.F64, new double[] {0}, 0));
    }

    /** One update: Adam/AdamW when {@code adam} is set, else SGD (buffers in {@code a} when momentum is not 0). */
    private static void update(Backend be, State s, Object h, LrSchedule sched) {
        if (h instanceof AdamParams ap)
            ops(be).fusedAdam(s.p(), s.g(), s.a(), s.b(), ap, sched, s.coef(), s.skip(), s.step(), s.lrFactor(), s.copies());
        else if (h instanceof SgdParams sp)
            ops(be).fusedSgd(s.p(), s.g(), sp.momentum() == 0 ? null : s.a(), sp, sched, s.coef(), s.skip(), s.step(), s.lrFactor(), s.copies());
    }

    private static byte[] raw(List<Strided> vs) {
        var out = new java.io.ByteArrayOutputStream();
        for (Strided v : vs) {
            byte[] b = new byte[(int) (v.numel() * v.dtype().byteSize())];
            v.storage().backend().copyToHost(v.storage(), v.offset() * v.dtype().byteSize(), MemorySegment.ofArray(b), b.length);
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    private List<Object> hyperparameters() {
        double wd = 0.01 + 0.05 * rnd.nextDouble();
        return List.of(new AdamParams(0.9, 0.999, 1e-8, wd, true), new AdamParams(0.9, 0.999, 1e-8, wd, false),
                new SgdParams(0.9, 0.1, wd, false), new SgdParams(0.9, 0, wd, true), new SgdParams(0, 0, wd, false));
    }

    @Test
    void factorMatchesTheCpuTwin() {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        for (Object h : hyperparameters()) {
            for (DType copies : new DType[] {null, DType.BF16, DType.F16}) {
                double f = 0.1 + 0.8 * rnd.nextDouble();
                boolean adam = h instanceof AdamParams;
                LrSchedule sched = adam ? LrSchedule.cosine(2e-3, 5, 1e-5).withWarmup(1) : LrSchedule.step(0.05, 2, 0.5);
                Init in = init();
                State want = state(cpu, in, copies, 0, f), got = state(cuda, in, copies, 0, f);
                String what = h + " copies=" + copies + " factor=" + (float) f + " (seed " + seed + ")";
                for (int step = 0; step < 3; step++) {
                    update(cpu, want, h, sched);
                    update(cuda, got, h, sched);
                    for (int i = 0; i < SIZES.length; i++) {
                        assertClose(download(want.p().get(i)), download(got.p().get(i)), 2e-6, 1e-7, what + " step " + step + " param " + i);
                        assertClose(download(want.a().get(i)), download(got.a().get(i)), 1e-5, 1e-9, what + " step " + step + " moment/buffer " + i);
                        assertClose(download(want.b().get(i)), download(got.b().get(i)), 1e-5, 1e-12, what + " step " + step + " second moment " + i);
                        if (copies != null) // one rounding apart at most where the weights differ in their last bits
                            assertClose(download(want.copies().get(i)), download(got.copies().get(i)), copies == DType.BF16 ? 8e-3 : 1e-3, 1e-7,
                                    what + " step " + step + " working copy " + i);
                    }
                    assertArrayEquals(download(want.step()), download(got.step()), what + " step counter");
                }
                release();
            }
        }
    }

    /** On the device: a factor is the constant schedule of lr * factor, and a factor of 1 is no factor, bit for bit. */
    @Test
    void factorIsTheLoweredLearningRateBitForBit() {
        Backend cuda = GpuBackends.cuda();
        for (Object h : hyperparameters()) {
            float f = (float) (0.1 + 0.8 * rnd.nextDouble());
            double lr = h instanceof AdamParams ? 1e-3 : 0.05;
            Init in = init();
            State withFactor = state(cuda, in, DType.BF16, 0, f), lowered = state(cuda, in, DType.BF16, 0, Double.NaN);
            State one = state(cuda, in, DType.BF16, 0, 1), none = state(cuda, in, DType.BF16, 0, Double.NaN);
            for (int step = 0; step < 3; step++) {
                update(cuda, withFactor, h, LrSchedule.constant(lr));
                update(cuda, lowered, h, LrSchedule.constant(lr * f));
                update(cuda, one, h, LrSchedule.constant(lr));
                update(cuda, none, h, LrSchedule.constant(lr));
            }
            assertArrayEquals(raw(lowered.all()), raw(withFactor.all()), h + " factor " + f + " vs lr * factor (seed " + seed + ")");
            assertArrayEquals(raw(none.all()), raw(one.all()), h + " factor 1 vs none (seed " + seed + ")");
            assertFalse(Arrays.equals(raw(none.p()), raw(withFactor.p())), h + ": the factor changed nothing");
            release();
        }
    }

    @Test
    void skippedStepWithAFactorWritesNothing() {
        Backend cuda = GpuBackends.cuda();
        for (Object h : hyperparameters()) {
            State s = state(cuda, init(), DType.F16, 1, 0.5);
            byte[] before = raw(s.all());
            update(cuda, s, h, LrSchedule.constant(0.01));
            assertArrayEquals(before, raw(s.all()), h + " with skip=1 and a factor wrote something (seed " + seed + ")");
            release();
        }
    }
}
