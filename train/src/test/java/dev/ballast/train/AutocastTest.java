package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.SGD;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import java.util.List;

/**
 * Autocast's type rules on the CPU against a float64 reference on the rounded operands, gradients arriving in the
 * master weights' F32, and the optimizer's low-precision working copies written by its fused update.
 */
class AutocastTest {
    static final Device CPU = Device.cpu();
    final long seed = System.nanoTime();
    final Generator gen = new Generator(seed);
    Scope scope;

    @BeforeEach void open() {
        System.err.println("AutocastTest seed " + seed);
        scope = Scope.open();
    }

    @AfterEach void close() { scope.close(); }

    static double round(DType t, double v) {
        return t == DType.F16 ? HalfFloats.f16ToFloat(HalfFloats.doubleToF16(v)) : HalfFloats.bf16ToFloat(HalfFloats.doubleToBf16(v));
    }

    @ParameterizedTest @ValueSource(strings = {"F16", "BF16"})
    void productsRunInHalfWithF32AccumulationAndGradientsReachF32(String name) {
        DType t = DType.valueOf(name);
        int m = 5, k = 37, n = 4;
        Tensor x = Tensor.randn(gen, CPU, m, k);
        Tensor w = Tensor.randn(gen, CPU, k, n).requiresGrad(true);
        Tensor y;
        try (Autocast.Guard g = Autocast.enable(t)) {
            y = x.matmul(w);
            assertEquals(t, y.dtype(), "a product runs in the autocast dtype");
            assertEquals(DType.F32, y.sum().dtype(), "reductions run in f32");
            assertEquals(DType.F32, y.softmax(1).dtype(), "softmax runs in f32");
            assertEquals(DType.F32, y.exp().dtype(), "exp runs in f32");
            assertEquals(DType.F32, y.add(Tensor.zeros(CPU, DType.F32, n)).dtype(), "promotion with an f32 bias gives f32");
        }
        double[] xv = x.toDoubleArray(), wv = w.toDoubleArray(), yv = y.toDoubleArray();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int q = 0; q < k; q++) acc += round(t, xv[i * k + q]) * round(t, wv[q * n + j]);
                // f32 accumulation then one rounding to the half type: within one half ulp plus f32 error
                assertEquals(round(t, acc), yv[i * n + j], Math.abs(acc) * (t == DType.F16 ? 1e-3 : 8e-3) + 1e-3, "y[" + i + "," + j + "]");
            }
        y.to(DType.F32).sum().backward();
        assertEquals(DType.F32, w.grad().dtype(), "the master weight's gradient is f32");
        double[] gw = w.grad().toDoubleArray();
        for (int q = 0; q < k; q++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int i = 0; i < m; i++) acc += round(t, xv[i * k + q]);
                assertEquals(round(t, acc), gw[q * n + j], Math.abs(acc) * 1e-2 + 1e-3, "grad w[" + q + "," + j + "]");
                assertEquals(gw[q * n + j], round(t, gw[q * n + j]), "the weight gradient was computed in the half type");
            }
        assertTrue(Autocast.dtype() == null, "the scope restored autocast off");
    }

    @Test void autocastOffLeavesEverythingF32AndRejectsOtherTypes() {
        Tensor w = Tensor.randn(gen, CPU, 3, 3);
        assertSame(w, Autocast.weight(w));
        try (Autocast.Guard g = Autocast.enable(DType.F32)) {
            assertEquals(DType.F32, w.matmul(w).dtype());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> Autocast.enable(DType.F64));
        assertEquals("autocast: dtype must be f16, bf16 or f32 (off), got f64", e.getMessage());
    }

    @ParameterizedTest @ValueSource(strings = {"F16", "BF16"})
    void workingCopiesFollowTheWeightsThroughFusedAndSkippedSteps(String name) {
        DType t = DType.valueOf(name);
        Linear lin = new Linear(24, 8, new ParamSpec(CPU, DType.F32, gen));
        for (var opt : List.of(new AdamW(lin.parameters(), 1e-2), new SGD(lin.parameters(), 0.1))) {
            opt.keepWorkingCopies(t);
            for (int step = 0; step < 3; step++) {
                Tensor x = Tensor.randn(gen, CPU, 16, 24);
                opt.zeroGrad();
                try (Autocast.Guard g = Autocast.enable(t)) {
                    lin.call(x).square().mean().backward();
                }
                double[] before = copyOf(lin.weight(), t);
                opt.stepAsync(null, step == 1 ? Tensor.scalar(CPU, DType.F32, 1) : null);
                double[] master = lin.weight().toDoubleArray(), copy = copyOf(lin.weight(), t);
                for (int i = 0; i < master.length; i++) assertEquals(round(t, master[i]), copy[i], "copy[" + i + "] after step " + step);
                if (step == 1) assertArrayEquals(before, copy, "a skipped step leaves the copy as it was");
            }
            opt.close();
        }
    }

    @Test void aWeightChangedOutsideTheOptimizerIsCastAfreshNotReadFromAStaleCopy() {
        Linear lin = new Linear(8, 4, new ParamSpec(CPU, DType.F32, gen));
        try (AdamW opt = new AdamW(lin.parameters(), 1e-2)) {
            opt.keepWorkingCopies(DType.BF16);
            Tensor loaded = Tensor.randn(gen, CPU, 4, 8);
            try (dev.ballast.engine.autograd.GradMode.Guard ng = dev.ballast.engine.autograd.GradMode.noGrad()) {
                lin.weight().copyFrom(loaded); // as loading a checkpoint does
            }
            double[] expected = loaded.to(DType.BF16).to(DType.F32).toDoubleArray();
            assertArrayEquals(expected, copyOf(lin.weight(), DType.BF16), "the copy registered before the load is not used");
            opt.refreshWorkingCopies();
            assertArrayEquals(expected, copyOf(lin.weight(), DType.BF16), "after a refresh the copy holds the loaded values");
        }
    }

    /** The values Autocast hands out for {@code w} (its working copy), read through a product with the identity. */
    static double[] copyOf(Tensor w, DType t) {
        try (Autocast.Guard g = Autocast.enable(t)) {
            return Autocast.weight(w).to(DType.F32).toDoubleArray();
        }
    }
}
