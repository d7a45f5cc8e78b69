package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.autograd.GradMode;
import org.junit.jupiter.api.Test;

/**
 * What autograd and the tensor core refuse so that no wrong number is returned: in-place changes to tensors saved
 * for backward (version counters, as PyTorch), in-place changes to leaves that require grad, shapes whose size
 * overflows, arange with non-finite bounds; and gradients owned by their parameter (reused, freed with it).
 */
class InPlaceSafetyTest {
    static final Device CPU = Device.cpu();

    static Tensor leaf(double... v) { return Tensor.fromArray(CPU, DType.F64, v, v.length).requiresGrad(true); }

    @Test
    void changingATensorSavedForBackwardIsAnErrorNamingTheOp() {
        Tensor x = leaf(0.5, -1, 2);
        Tensor y = x.tanh();
        Tensor z = y.sum();
        assertEquals(0, y.version());
        y.mulInPlace(0);
        assertEquals(1, y.version());
        IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
        assertTrue(e.getMessage().contains("'tanh'") && e.getMessage().contains("version 1") && e.getMessage().contains("expected version 0"),
                e.getMessage());
        assertNull(x.grad(), "no gradient was produced");

        // without the change the same graph gives 1 - tanh^2
        Tensor x2 = leaf(0.5, -1, 2);
        x2.tanh().sum().backward();
        double[] g = x2.grad().toDoubleArray();
        double[] xs = {0.5, -1, 2};
        for (int i = 0; i < 3; i++) assertEquals(1 - Math.tanh(xs[i]) * Math.tanh(xs[i]), g[i], 1e-12);
    }

    @Test
    void viewsAndDetachedHandlesShareTheVersion() {
        Tensor x = leaf(1, 2, 3, 4);
        Tensor y = x.exp(); // saves its output
        Tensor loss = y.sum();
        Tensor v = y.detach().reshape(2, 2);
        v.fill(0);
        assertEquals(1, y.version());
        assertThrows(IllegalStateException.class, loss::backward);
        // an input of mul is saved too
        Tensor a = leaf(1, 2), b = Tensor.fromArray(CPU, DType.F64, new double[]{3, 4}, 2);
        Tensor p = a.mul(b).sum();
        b.addInPlace(b);
        IllegalStateException e = assertThrows(IllegalStateException.class, p::backward);
        assertTrue(e.getMessage().contains("'mul'"), e.getMessage());
    }

    @Test
    void changingATensorNoBackwardReadsIsAllowed() {
        Tensor x = leaf(1, 2, 3);
        Tensor a = x.mul(2.0);   // scalar multiply saves nothing
        Tensor b = a.add(1.0).sum();
        a.mulInPlace(10);        // as PyTorch: neither add nor the scalar mul reads a
        b.backward();
        assertArrayEquals(new double[]{2, 2, 2}, x.grad().toDoubleArray());
    }

    @Test
    void aLeafThatRequiresGradCannotBeChangedInPlaceOutsideNoGrad() {
        Tensor w = leaf(1, 2, 3);
        for (Runnable op : new Runnable[]{() -> w.mulInPlace(2), () -> w.fill(0), () -> w.copyFrom(w.detach()),
                () -> w.addInPlace(Tensor.ones(CPU, DType.F64, 3))}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, op::run);
            assertTrue(e.getMessage().contains("leaf tensor that requires grad") && e.getMessage().contains("noGrad"), e.getMessage());
        }
        assertArrayEquals(new double[]{1, 2, 3}, w.toDoubleArray());
        assertEquals(0, w.version());
        try (GradMode.Guard g = GradMode.noGrad()) {
            w.mulInPlace(2); // how optimizers update parameters
        }
        assertArrayEquals(new double[]{2, 4, 6}, w.toDoubleArray());
        assertEquals(1, w.version());
    }

    @Test
    void sizesThatOverflowAreErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(CPU, DType.F32, (1L << 62) + 1, 4));
        assertTrue(e.getMessage().contains("2^63"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(CPU, DType.F64, 1L << 61, 2));
        assertTrue(e.getMessage().contains("bytes"), e.getMessage());
        for (double[] a : new double[][]{{0, Double.NaN, 1}, {Double.NaN, 3, 1}, {0, Double.POSITIVE_INFINITY, 1}, {0, 3, Double.NaN}}) {
            e = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(CPU, DType.F32, a[0], a[1], a[2]));
            assertTrue(e.getMessage().startsWith("arange:"), e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(CPU, DType.F32, 0, 1e12, 1));
        assertTrue(e.getMessage().contains("at most"), e.getMessage());
        assertArrayEquals(new double[]{0, 0.5, 1, 1.5}, Tensor.arange(CPU, DType.F64, 0, 2, 0.5).toDoubleArray());
    }

    @Test
    void gradientsAreAllocatedOnceAndReusedAfterZeroGrad() {
        Tensor w = leaf(1, 2, 3);
        w.square().sum().backward();
        Tensor first = w.grad();
        var storage = first.storage();
        assertArrayEquals(new double[]{2, 4, 6}, first.toDoubleArray());
        w.zeroGrad();
        assertNull(w.grad());
        assertTrue(first.isClosed(), "the cleared gradient's handle is closed, as before");
        w.mul(3.0).sum().backward();
        assertNotSame(first, w.grad());
        assertSame(storage, w.grad().storage(), "the next backward writes into the same memory");
        assertArrayEquals(new double[]{3, 3, 3}, w.grad().toDoubleArray());
        w.close();
        assertNull(w.grad());
    }

    @Test
    void nativeMemoryStaysFlatWhateverScopesTheUserOpens() {
        long base = CPU.backend().allocatedBytes();
        long n = 1 << 20; // 8 MB of F64 per tensor
        for (int i = 0; i < 40; i++) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.full(CPU, DType.F64, 0.5, n).requiresGrad(true);
                x.square().sum().backward();
                assertEquals(1.0, x.grad().toDoubleArray()[7]);
            }
            // other tests' garbage may be freed meanwhile: the bound is far below one 8 MB gradient
            long now = CPU.backend().allocatedBytes();
            assertTrue(now - base < (1 << 20), "iteration " + i + ": " + (now - base) + " bytes left: the gradient was not freed with its tensor");
        }
        System.out.println("scoped 8 MB leaf + backward, 40 times: native bytes back to the baseline after each");
        // a parameter outside any scope, trained in scoped steps: one gradient buffer for the whole loop
        Tensor p = Tensor.full(CPU, DType.F64, 0.5, n).requiresGrad(true);
        long before = -1;
        for (int i = 0; i < 20; i++) {
            p.zeroGrad();
            try (Scope s = Scope.open()) {
                p.mul(2.0).sum().backward();
            }
            if (i == 1) before = CPU.backend().allocatedBytes();
            // one-sided: other tests' garbage freed by the cleaner meanwhile only lowers the count,
            // while a gradient per step would raise it by 8 MB each time
            if (i > 1) assertTrue(CPU.backend().allocatedBytes() - before < (1 << 20),
                    "step " + i + ": " + (CPU.backend().allocatedBytes() - before) + " bytes more than at step 1: a gradient per step");
        }
        p.close();
        assertTrue(CPU.backend().allocatedBytes() - base < (1 << 20), "the parameter's gradient is freed with it");
    }
}
