package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.autograd.AnomalyException;
import dev.ballast.engine.autograd.GradMode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Autograd mechanics: accumulation, hooks, retained gradients and graphs, noGrad, detach, anomaly mode. */
class AutogradTest {
    static final Device CPU = Device.cpu();
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    Tensor leaf(double... v) { return Tensor.fromArray(CPU, DType.F64, v, v.length).requiresGrad(true); }

    @Test void gradientsAccumulateAcrossBackwardCalls() {
        Tensor x = leaf(1, 2, 3);
        x.square().sum().backward();
        x.square().sum().backward();
        assertArrayEquals(new double[]{4, 8, 12}, x.grad().toDoubleArray(), "2 * 2x");
        x.zeroGrad();
        assertNull(x.grad());
    }

    @Test void aTensorUsedTwiceGetsBothContributions() {
        Tensor x = leaf(3);
        x.mul(x).add(x).sum().backward(); // d/dx (x^2 + x) = 2x + 1
        assertEquals(7, x.grad().item());
    }

    @Test void hooksSeeAndMayReplaceTheGradient() {
        Tensor x = leaf(1, -1);
        List<double[]> seen = new ArrayList<>();
        x.registerHook(g -> {
            seen.add(g.toDoubleArray());
            return g.mul(10);
        });
        x.mul(2).sum().backward();
        assertArrayEquals(new double[]{2, 2}, seen.getFirst());
        assertArrayEquals(new double[]{20, 20}, x.grad().toDoubleArray(), "the hook's result is what accumulates");
    }

    @Test void backwardFreesEachNodesGradientOnceItIsDone() {
        // a chain of 40 ops on a 4 MB tensor: the forward outputs stay (the caller's scope owns them), but by the time
        // the gradient reaches x only a few gradients are alive, not one per op
        int n = 1 << 20;
        Tensor x = Tensor.fromArray(CPU, DType.F32, new double[n], n).requiresGrad(true);
        Tensor y = x;
        for (int i = 0; i < 40; i++) y = y.mul(1.01).add(i % 2 == 0 ? y : y.neg());
        long[] atLeaf = new long[1];
        x.registerHook(g -> {
            atLeaf[0] = CPU.backend().allocatedBytes();
            return g;
        });
        Tensor loss = y.sum();
        long before = CPU.backend().allocatedBytes();
        loss.backward();
        long bytes = 4L * n;
        assertTrue(atLeaf[0] - before < 8 * bytes, "live backward memory at the leaf: " + (atLeaf[0] - before) / bytes
                + " tensors of 4 MB (about 100 when every gradient lived until backward returned)");
        assertEquals(Math.pow(2.01, 20) * Math.pow(0.01, 20), x.grad().toDoubleArray()[0], 1e-3 * Math.pow(2.01, 20) * Math.pow(0.01, 20),
                "d/dx of the chain");
    }

    @Test void retainGradKeepsANonLeafGradient() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(3).retainGrad();
        y.square().sum().backward();
        assertArrayEquals(new double[]{6, 12}, y.grad().toDoubleArray());
        assertArrayEquals(new double[]{18, 36}, x.grad().toDoubleArray());
    }

    @Test void aFreedGraphCannotBeUsedTwiceUnlessRetained() {
        Tensor x = leaf(2);
        Tensor y = x.exp().sum();
        y.backward(null, true);
        y.backward(null, false);
        assertEquals(2 * Math.exp(2), x.grad().item(), 1e-12);
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("retainGraph"), e.getMessage());
    }

    @Test void noGradAndDetachRecordNothing() {
        Tensor x = leaf(1, 2);
        try (GradMode.Guard g = GradMode.noGrad()) {
            Tensor y = x.mul(2);
            assertFalse(y.requiresGrad());
            assertThrows(IllegalStateException.class, () -> y.sum().backward());
        }
        Tensor d = x.detach();
        assertFalse(d.requiresGrad());
        assertEquals(x.storage(), d.storage(), "detach shares storage");
        assertTrue(x.mul(2).requiresGrad(), "recording resumes after the guard");
    }

    @Test void backwardChecksItsArguments() {
        Tensor x = leaf(1, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> x.mul(2).backward());
        assertTrue(e.getMessage().contains("one-element"), e.getMessage());
        Tensor y = x.mul(2);
        y.backward(Tensor.fromArray(CPU, DType.F64, new double[]{1, 10}, 2), false);
        assertArrayEquals(new double[]{2, 20}, x.grad().toDoubleArray());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(CPU, 3).requiresGrad(true));
    }

    @Test void anomalyModeNamesTheOpThatMadeTheFirstNaN() {
        Tensor x = leaf(-1, 2);
        try (GradMode.Guard a = GradMode.detectAnomaly()) {
            AnomalyException e = assertThrows(AnomalyException.class, () -> x.log());
            assertEquals("log", e.op());
            assertFalse(e.inBackward());
            assertTrue(e.getMessage().contains("[2]"), e.getMessage());
        }
        assertTrue(Double.isNaN(x.log().toDoubleArray()[0]), "outside anomaly mode NaN flows on");
    }
}
