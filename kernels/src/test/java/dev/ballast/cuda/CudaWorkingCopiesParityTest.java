package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.download;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.MultiTensorOps.AdamParams;
import dev.ballast.engine.backend.MultiTensorOps.SgdParams;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The mixed-precision working copies that the CUDA {@code fused_adam} / {@code fused_sgd} kernels write in their own
 * pass, against the CPU twin, bit for bit, on fresh random inputs (seed printed; {@code -Dballast.test.seed=N} replays
 * a run), for F16 and BF16 and for Adam(W), SGD with momentum and plain SGD. Weights span every rounding case: normal
 * values, values in F16's subnormal range, values beyond F16's largest finite (65504: rounds to infinity), and planted
 * exact halfway ties (a zero gradient and zero moments leave the weight as it is, so the copy must round the tie to
 * even). Both backends start from the same bits, and the copies start as garbage so that an unwritten copy fails.
 *
 * <p>The first step's master weights are bit-identical on both backends (the same float operations in the same
 * order; constant lr, and the bias corrections of step 1 are exact), so the copies must be equal everywhere. Later
 * steps' bias corrections go through {@code pow} in double, where the GPU's and Java's may differ by an ulp, so there
 * the copies must be equal wherever the master weights are, and the CUDA copy must always be the CPU twin's rounding
 * ({@code Float.floatToFloat16}, {@code HalfFloats.floatToBf16}) of the CUDA master weight.
 */
@Tag("gpu")
class CudaWorkingCopiesParityTest {
    private final long seed = Long.getLong("ballast.test.seed", System.nanoTime());
    private final Random rnd = new Random(seed);
    private final List<Storage> owned = new ArrayList<>();

    /** Sizes around the chunk edges (32768 elements), odd tails, and a large one (70,001 on a small device). */
    private static int[] sizes() {
        return new int[] {1, 7, 1000, 32767, 32769, 5, GpuBackends.sized("largest working-copy tensor", (1 << 20) + 17, 70_001)};
    }

    @AfterEach
    void release() {
        owned.forEach(Storage::release);
        owned.clear();
    }

    private Strided put(Backend b, DType t, double[] v, int offset) {
        return GpuBackends.uploadAt(b, t, v, offset, 0.75, owned);
    }

    private static short[] halves(Strided v) {
        byte[] out = new byte[(int) (2 * v.numel())];
        v.storage().backend().copyToHost(v.storage(), 2 * v.offset(), MemorySegment.ofArray(out), out.length);
        short[] s = new short[out.length / 2];
        ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).asShortBuffer().get(s);
        return s;
    }

    private static int[] floats(Strided v) {
        double[] d = download(v);
        int[] bits = new int[d.length];
        for (int i = 0; i < d.length; i++) bits[i] = Float.floatToRawIntBits((float) d[i]);
        return bits;
    }

    /** The CPU twin's rounding of a master weight into the copy's type. */
    private static short round(DType t, float x) {
        return t == DType.F16 ? Float.floatToFloat16(x) : HalfFloats.floatToBf16(x);
    }

    /** A float exactly halfway between two neighbours of type t (odd lower neighbour half the time, so ties go up too). */
    private float tie(DType t) {
        float base = (float) (rnd.nextGaussian() * (t == DType.F16 ? 100 : 1e5));
        if (t == DType.F16) {
            short h = Float.floatToFloat16(base);
            float lo = Float.float16ToFloat(h), hi = Float.float16ToFloat((short) (h + 1));
            return (float) (((double) lo + hi) / 2); // exact: two adjacent halves differ in the last of 11 bits
        }
        int bits = Float.floatToRawIntBits(base) & 0xFFFF_0000;
        return Float.intBitsToFloat(bits | 0x8000);
    }

    /** One tensor's inputs: weights spanning the rounding cases, gradients, moments; planted ties at {@code ties}. */
    private record Tensor(double[] p, double[] g, double[] m, double[] v, List<Integer> ties) {}

    private Tensor tensor(int n, DType t) {
        double[] p = new double[n], g = new double[n], m = new double[n], v = new double[n];
        List<Integer> ties = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double u = rnd.nextDouble();
            p[i] = u < 0.1 ? rnd.nextGaussian() * 1e-6          // f16 subnormals
                    : u < 0.15 ? rnd.nextGaussian() * 1e5        // beyond f16's range
                    : rnd.nextGaussian() * Math.exp(3 * rnd.nextGaussian());
            if (p[i] == 0) p[i] = 0.5;
            g[i] = rnd.nextGaussian() * Math.abs(p[i]) * 0.01;
            if (g[i] == 0) g[i] = 1e-3;
            m[i] = rnd.nextGaussian() * 1e-3;
            v[i] = 1e-6 * (0.1 + rnd.nextDouble());
            if (rnd.nextDouble() < 0.01) { // the update leaves this weight as is: its copy rounds an exact tie
                p[i] = tie(t);
                g[i] = 0;
                m[i] = 0;
                v[i] = 0;
                ties.add(i);
            }
        }
        return new Tensor(p, g, m, v, ties);
    }

    /** One backend's lists: params, grads, first and second companions, copies, and the steering scalars. */
    private record State(List<Strided> p, List<Strided> g, List<Strided> m, List<Strided> v, List<Strided> copies,
                         Strided coef, Strided skip, Strided step) {}

    private State state(Backend b, List<Tensor> in, DType t, double coefficient) {
        List<Strided> p = new ArrayList<>(), g = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>(), c = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            int off = i % 3 == 1 ? 1 + i % 5 : 0; // unaligned starts
            Tensor x = in.get(i);
            p.add(put(b, DType.F32, x.p(), off));
            g.add(put(b, DType.F32, x.g(), off));
            m.add(put(b, DType.F32, x.m(), off));
            v.add(put(b, DType.F32, x.v(), off));
            double[] garbage = new double[x.p().length];
            java.util.Arrays.fill(garbage, -3.0);
            c.add(put(b, t, garbage, (off + 1) % 4));
        }
        return new State(p, g, m, v, c, put(b, DType.F32, new double[] {coefficient}, 0),
                put(b, DType.F32, new double[] {0}, 0), put(b, DType.F64, new double[] {0}, 0));
    }

    private static boolean step(Backend b, String optimizer, State s, double lr) {
        MultiTensorOps ops = b.multiTensorOps().orElseThrow();
        return switch (optimizer) {
            // no weight decay: a decayed weight would move, and the planted ties must stay where they are
            case "adamw" -> ops.fusedAdam(s.p(), s.g(), s.m(), s.v(), new AdamParams(0.9, 0.999, 1e-8, 0, true),
                    LrSchedule.constant(lr), s.coef(), s.skip(), s.step(), s.copies());
            case "sgd-momentum" -> ops.fusedSgd(s.p(), s.g(), s.m(), new SgdParams(0.9, 0.1, 0, false),
                    LrSchedule.constant(lr), s.coef(), s.skip(), s.step(), s.copies());
            case "sgd" -> ops.fusedSgd(s.p(), s.g(), null, new SgdParams(0, 0, 0, false),
                    LrSchedule.constant(lr), s.coef(), s.skip(), s.step(), s.copies());
            default -> throw new IllegalArgumentException(optimizer);
        };
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F16, adamw", "BF16, adamw", "F16, sgd-momentum", "BF16, sgd-momentum", "F16, sgd", "BF16, sgd"})
    void copiesWrittenByTheUpdateMatchTheCpuTwinBitForBit(DType t, String optimizer) {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        System.out.println("CudaWorkingCopiesParityTest " + t + " " + optimizer + " seed " + seed);
        List<Tensor> in = new ArrayList<>();
        for (int n : sizes()) in.add(tensor(n, t));
        double lr = optimizer.equals("adamw") ? 1e-2 : 0.05;
        double coefficient = 0.5 + 0.5 * rnd.nextDouble(); // the clip coefficient the update folds in
        State want = state(cpu, in, t, coefficient), got = state(cuda, in, t, coefficient);
        int tiesChecked = 0;
        for (int k = 0; k < 3; k++) {
            assertTrue(step(cpu, optimizer, want, lr), "the CPU twin writes the copies in its pass");
            assertTrue(step(cuda, optimizer, got, lr), "the CUDA kernel writes the copies in its pass (no second cast pass)");
            long differingMasters = 0, total = 0;
            for (int i = 0; i < in.size(); i++) {
                String what = "seed " + seed + " " + t + " " + optimizer + " step " + k + " tensor " + i;
                int[] pw = floats(want.p().get(i)), pg = floats(got.p().get(i));
                short[] cw = halves(want.copies().get(i)), cg = halves(got.copies().get(i));
                for (int e = 0; e < pg.length; e++) {
                    short expected = round(t, Float.intBitsToFloat(pg[e]));
                    if (cg[e] != expected)
                        fail(what + " element " + e + ": CUDA master " + Float.intBitsToFloat(pg[e]) + " rounds to 0x"
                                + Integer.toHexString(expected & 0xFFFF) + " but its copy is 0x" + Integer.toHexString(cg[e] & 0xFFFF));
                    if (pw[e] != pg[e]) {
                        differingMasters++;
                        continue;
                    }
                    if (cw[e] != cg[e])
                        fail(what + " element " + e + ": master " + Float.intBitsToFloat(pg[e]) + " on both, copy 0x"
                                + Integer.toHexString(cw[e] & 0xFFFF) + " on the CPU, 0x" + Integer.toHexString(cg[e] & 0xFFFF) + " on CUDA");
                }
                total += pg.length;
                if (k == 0)
                    for (int e : in.get(i).ties()) {
                        assertEquals(Float.floatToRawIntBits((float) in.get(i).p()[e]), pg[e], what + ": a zero update keeps the tie " + e);
                        assertEquals(0, cg[e] & 1, what + ": the tie at element " + e + " rounds to even");
                        tiesChecked++;
                    }
            }
            if (k == 0) assertEquals(0, differingMasters, "seed " + seed + ": the first step's master weights are the same bits on both backends");
            assertTrue(differingMasters <= total / 100, "seed " + seed + " step " + k + ": " + differingMasters + " of " + total
                    + " master weights differ between the backends (an ulp of pow in double may move a few, not more)");
        }
        assertTrue(tiesChecked > 100, "planted ties: " + tiesChecked);
        // a skipped step leaves the copies as they are, as it leaves the weights
        short[] before = halves(got.copies().getLast());
        cuda.fill(got.skip(), 1);
        step(cuda, optimizer, got, lr);
        assertArrayEquals(before, halves(got.copies().getLast()), "seed " + seed + ": a skipped step wrote the working copies");
    }
}
