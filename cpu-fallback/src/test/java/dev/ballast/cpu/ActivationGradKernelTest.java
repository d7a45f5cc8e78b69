package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.CPU;
import static dev.ballast.cpu.TestSupport.empty;
import static dev.ballast.cpu.TestSupport.read;
import static dev.ballast.cpu.TestSupport.representable;
import static dev.ballast.cpu.TestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The one-pass ReLU and tanh gradients ({@link FusedActivations#reluBackward}, {@link FusedActivations#tanhBackward})
 * bit for bit against the ops autograd composed before ({@code g * (x > 0)}; {@code g * (1 - y^2)} as square, reverse
 * subtraction and product), in F32 (vector rows with tails, rows split across threads) and F64, contiguous and
 * transposed, with zeros of both signs, infinities and NaN among the inputs. Their float64 finite-difference checks
 * are OpGradCheckTest's relu and tanh.
 */
class ActivationGradKernelTest {
    private static final double[] SPECIAL = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1e-40, -1.0, 1.0};

    @Test void reluAndTanhGradientsEqualTheComposedOpsBitForBit() {
        long seed = 20261130L;
        System.out.println("ActivationGradKernelTest seed " + seed);
        Random rnd = new Random(seed);
        FusedActivations f = CPU.fusedActivations().orElseThrow();
        for (DType t : new DType[] {DType.F32, DType.F64})
            for (int n : new int[] {1, 15, 16, 17, 333, 70_001}) {
                double[] x = new double[n], g = new double[n];
                for (int i = 0; i < n; i++) {
                    x[i] = i < SPECIAL.length && n > 100 ? SPECIAL[i] : rnd.nextGaussian();
                    g[i] = i >= SPECIAL.length && i < 2 * SPECIAL.length && n > 100 ? SPECIAL[i - SPECIAL.length] : rnd.nextGaussian();
                }
                x = representable(t, x);
                g = representable(t, g);
                Strided xs = tensor(t, x, n), gs = tensor(t, g, n);
                check(t + " n=" + n, t, f, xs, gs, xs.shape());
                if (n == 333) { // a [9, 37] view read transposed: strided rows take the scalar loop
                    Strided xt = xs.withLayout(new long[] {37, 9}, new long[] {1, 37}), gt = gs.withLayout(new long[] {37, 9}, new long[] {1, 37});
                    check(t + " transposed", t, f, xt, gs.withLayout(new long[] {37, 9}, new long[] {9, 1}), xt.shape());
                    check(t + " both transposed", t, f, xt, gt, xt.shape());
                }
            }
    }

    private static void check(String what, DType t, FusedActivations f, Strided x, Strided g, long[] shape) {
        Strided relu = empty(t, shape), tanh = empty(t, shape);
        f.reluBackward(x, g, relu);
        f.tanhBackward(x, g, tanh);
        Strided mask = empty(t, shape), reluRef = empty(t, shape);
        CPU.binaryScalar(BinaryOp.GT, x, 0, false, mask);
        CPU.binary(BinaryOp.MUL, g, mask, reluRef);
        Strided sq = empty(t, shape), oneMinus = empty(t, shape), tanhRef = empty(t, shape);
        CPU.unary(UnaryOp.SQUARE, x, sq);
        CPU.binaryScalar(BinaryOp.SUB, sq, 1, true, oneMinus);
        CPU.binary(BinaryOp.MUL, g, oneMinus, tanhRef);
        same(what + " relu", read(reluRef), read(relu));
        same(what + " tanh", read(tanhRef), read(tanh));
    }

    private static void same(String what, double[] want, double[] got) {
        for (int i = 0; i < want.length; i++)
            if (!(Double.isNaN(want[i]) && Double.isNaN(got[i])))
                assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]),
                        what + " at " + i + ": composed " + want[i] + ", fused " + got[i]);
    }

    @Test void mixedOrHalfDtypesAreRefused() {
        FusedActivations f = CPU.fusedActivations().orElseThrow();
        Strided x32 = tensor(DType.F32, new double[] {1, -1}, 2), g64 = tensor(DType.F64, new double[] {1, 1}, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> f.reluBackward(x32, g64, empty(DType.F32, 2)));
        assertEquals("relu backward takes F32 or F64 operands of one dtype, got F32, F64, F32", e.getMessage());
        Strided h = tensor(DType.F16, new double[] {1, -1}, 2);
        assertThrows(IllegalArgumentException.class, () -> f.tanhBackward(h, h, empty(DType.F16, 2)));
    }
}
