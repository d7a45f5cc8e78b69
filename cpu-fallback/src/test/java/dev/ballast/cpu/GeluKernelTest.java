package dev.ballast.cpu;

import static dev.ballast.cpu.TestSupport.CPU;
import static dev.ballast.cpu.TestSupport.empty;
import static dev.ballast.cpu.TestSupport.read;
import static dev.ballast.cpu.TestSupport.representable;
import static dev.ballast.cpu.TestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused GELU gradient (and the F32 one-pass GELU) against a float64 reference built from an independently written erfc. */
class GeluKernelTest {

    private static double refValue(double x) {
        return x == Double.NEGATIVE_INFINITY ? -0.0 : 0.5 * x * ReferenceErf.erfc(-x / Math.sqrt(2));
    }

    private static double refGrad(double x) {
        double cdf = 0.5 * ReferenceErf.erfc(-x / Math.sqrt(2));
        double pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
        return cdf + x * pdf;
    }

    @Test void geluBackwardMatchesTheFloat64ReferenceInF32AndF64() {
        long seed = 20261130L;
        System.out.println("GeluKernelTest seed " + seed);
        Random rnd = new Random(seed);
        int n = 50_011; // crosses task boundaries and leaves a ragged last chunk
        FusedActivations f = CPU.fusedActivations().orElseThrow();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            double[] xv = new double[n], gv = new double[n];
            for (int i = 0; i < n; i++) {
                xv[i] = i % 5 == 0 ? rnd.nextGaussian() * 8 : rnd.nextDouble(-12, 12);
                gv[i] = rnd.nextDouble(-2, 2);
            }
            xv = representable(t, xv);
            gv = representable(t, gv);
            Strided x = tensor(t, xv, n), g = tensor(t, gv, n), out = empty(t, n);
            f.geluBackward(x, g, out);
            double[] got = read(out);
            double tol = t == DType.F32 ? 1e-6 : 1e-12;
            for (int i = 0; i < n; i++) {
                double ref = gv[i] * refGrad(xv[i]);
                double err = Math.abs(got[i] - ref);
                int k = i;
                double[] xs = xv, gs = gv;
                // relative to |g| (the derivative is at most ~1.13): also covers the tails where it tends to 0
                assertTrue(err <= tol * Math.max(Math.abs(gs[k]), 1e-30),
                        () -> t + " at x=" + xs[k] + ", g=" + gs[k] + ": got " + got[k] + ", reference " + ref);
            }
        }
    }

    @Test void geluBackwardTakesTheLimitsAtTheInfinitiesAndKeepsNaN() {
        double[] xv = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 0.0, 30.0, -30.0};
        double[] gv = {3, 3, 3, 3, 3, 3};
        Strided x = tensor(DType.F32, xv, xv.length), g = tensor(DType.F32, gv, gv.length), out = empty(DType.F32, xv.length);
        CPU.fusedActivations().orElseThrow().geluBackward(x, g, out);
        double[] got = read(out);
        assertEquals(3.0, got[0]);
        assertEquals(0.0, got[1]);
        assertTrue(Double.isNaN(got[2]), "NaN stays NaN: " + got[2]);
        assertEquals(1.5, got[3], 1e-7, "gelu'(0) = 1/2");
        assertEquals(3.0, got[4], 1e-6);
        assertEquals(0.0, got[5], 1e-30);
    }

    @Test void geluBackwardReadsStridedAndBroadcastOperands() {
        // x read through a stride-2 view, g broadcast from one value: the same as contiguous operands
        double[] xv = new double[200];
        for (int i = 0; i < xv.length; i++) xv[i] = (i - 100) * 0.07;
        Strided xs = tensor(DType.F32, xv, 200), g1 = tensor(DType.F32, new double[]{0.5}, 1);
        Strided x = xs.withLayout(new long[]{100}, new long[]{2});
        Strided g = g1.withLayout(new long[]{100}, new long[]{0});
        Strided out = empty(DType.F32, 100);
        CPU.fusedActivations().orElseThrow().geluBackward(x, g, out);
        double[] got = read(out);
        for (int i = 0; i < 100; i++) {
            double xi = (float) xv[2 * i];
            assertEquals(0.5 * refGrad(xi), got[i], 1e-6, "at x=" + xi);
        }
    }

    @Test void f32GeluIsWithinAnUlpOutToWhereItUnderflowsAndHandlesRaggedLengths() {
        // the one-pass F32 kernel: values in the far negative tail are float subnormals (x < -13.2) and then 0;
        // lengths that are not a multiple of the vector width take the masked tail
        long seed = 20261201L;
        System.out.println("GeluKernelTest f32 seed " + seed);
        Random rnd = new Random(seed);
        for (int n : new int[] {1, 7, 9, 513, 40_003}) {
            double[] xv = new double[n], gv = new double[n];
            for (int i = 0; i < n; i++) {
                xv[i] = i % 3 == 0 ? rnd.nextDouble(-16, -11) : rnd.nextGaussian() * 4;
                gv[i] = rnd.nextDouble(-2, 2);
            }
            xv = representable(DType.F32, xv);
            gv = representable(DType.F32, gv);
            Strided x = tensor(DType.F32, xv, n), g = tensor(DType.F32, gv, n), out = empty(DType.F32, n), dx = empty(DType.F32, n);
            CPU.unary(dev.ballast.engine.backend.UnaryOp.GELU, x, out);
            CPU.fusedActivations().orElseThrow().geluBackward(x, g, dx);
            double[] got = read(out), gotDx = read(dx);
            for (int i = 0; i < n; i++) {
                double ref = refValue(xv[i]), refDx = gv[i] * refGrad(xv[i]);
                int k = i;
                double[] xs = xv;
                assertTrue(TestSupport.ulps(DType.F32, got[i], ref) <= 1.0,
                        () -> "gelu at x=" + xs[k] + ": got " + got[k] + ", reference " + ref);
                assertTrue(TestSupport.ulps(DType.F32, gotDx[i], refDx) <= 1.0,
                        () -> "gelu' at x=" + xs[k] + ": got " + gotDx[k] + ", reference " + refDx);
            }
        }
    }

    @Test void f32GeluTakesTheLimitsAtTheInfinitiesAndKeepsNaN() {
        double[] xv = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 0.0, -0.0, 40.0, -40.0, Float.MAX_VALUE,
            -Float.MAX_VALUE};
        Strided x = tensor(DType.F32, xv, xv.length), out = empty(DType.F32, xv.length);
        CPU.unary(dev.ballast.engine.backend.UnaryOp.GELU, x, out);
        double[] got = read(out);
        assertEquals(Double.POSITIVE_INFINITY, got[0]);
        assertEquals(-0.0, got[1]);
        assertTrue(Double.isNaN(got[2]), "NaN stays NaN: " + got[2]);
        assertEquals(0.0, got[3]);
        assertEquals(-0.0, got[4]);
        assertEquals(40.0, got[5]);
        assertEquals(-0.0, got[6]);
        assertEquals((double) Float.MAX_VALUE, got[7]);
        assertEquals(-0.0, got[8]);
    }
}
