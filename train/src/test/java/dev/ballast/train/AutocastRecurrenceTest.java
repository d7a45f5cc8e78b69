package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.LSTM;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.RNN;
import dev.ballast.engine.nn.RecurrentLayer;
import dev.ballast.engine.optim.AdamW;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused RNN/LSTM layers (the CPU backend's fused cells) under autocast: their products run in the low precision
 * like the unrolled graph's, so output and every gradient match the same cell written out step by step with
 * engine ops under the same autocast (to F32 summation order), differ from the fp32 layer by the low precision's
 * rounding (so the products really ran in it), and a kept working copy gives bit-identical results to the cast.
 */
class AutocastRecurrenceTest {
    static final Device CPU = Device.cpu();
    final long seed = System.nanoTime();
    final Generator gen = new Generator(seed);
    Scope scope;

    @BeforeEach void open() {
        System.err.println("AutocastRecurrenceTest seed " + seed);
        scope = Scope.open();
    }

    @AfterEach void close() { scope.close(); }

    record Outcome(double[] out, Map<String, double[]> grads) {}

    @ParameterizedTest
    @CsvSource({"rnn,F16,true", "rnn,BF16,true", "rnn,F16,false", "lstm,F16,true", "lstm,BF16,true", "lstm,BF16,false"})
    void fusedLayerMatchesTheUnrolledCellUnderAutocast(String kind, String dtype, boolean bias) {
        DType t = DType.valueOf(dtype);
        int in = 6, hidden = 8, batch = 3, time = 7;
        ParamSpec spec = new ParamSpec(CPU, DType.F32, gen);
        RecurrentLayer layer = kind.equals("rnn") ? new RNN(in, hidden, 1, bias, spec) : new LSTM(in, hidden, 1, bias, spec);
        Tensor x = Tensor.randn(gen, CPU, batch, time, in);
        Outcome fused = run(layer, x, t, false);
        Outcome unrolled = run(layer, x, t, true);
        Outcome fp32 = run(layer, x, null, false);
        double halfUlp = t == DType.F16 ? 0x1p-11 : 0x1p-8;
        // the same arithmetic in another F32 order: within a few roundings of the low precision everywhere
        assertClose(unrolled.out(), fused.out(), 4 * halfUlp, "output");
        for (String name : fused.grads().keySet())
            assertClose(unrolled.grads().get(name), fused.grads().get(name), 8 * halfUlp, "grad " + name);
        // dW_hh is one low-precision product over all steps, widened: every entry is a value of the low type
        for (double v : fused.grads().get("weight_hh_l0"))
            assertEquals(lowValue(t, v), v, "dW_hh entry " + v + " is not a " + t + " value");
        // with the optimizer's working copies the layer reads them instead of casting: the same bits
        try (AdamW opt = new AdamW(layer.parameters(), 1e-3)) {
            opt.keepWorkingCopies(t);
            Outcome withCopies = run(layer, x, t, false);
            assertArrayEquals(fused.out(), withCopies.out(), "output with working copies");
            for (String name : fused.grads().keySet())
                assertArrayEquals(fused.grads().get(name), withCopies.grads().get(name), "grad " + name + " with working copies");
        }
    }

    /**
     * The recurrent product itself, seen through one RNN step with no input and no bias: {@code tanh(h0 W^T)} with
     * the product in the low type (operands rounded, F32 accumulation, result rounded) matches the host's value of
     * that arithmetic; a product left in F32 would miss it by up to half a low-precision ulp nearly everywhere. The
     * gradients of h0 and W are low-precision products too, so every entry is a value of the low type.
     */
    @ParameterizedTest
    @CsvSource({"F16", "BF16"})
    void recurrentProductsAndTheirGradientsRunInTheLowType(String dtype) {
        DType t = DType.valueOf(dtype);
        int batch = 4, h = 16;
        Tensor h0 = Tensor.randn(gen, CPU, batch, h).requiresGrad(true);
        Tensor w = Tensor.randn(gen, CPU, h, h).mul(0.2).detach().requiresGrad(true);
        Tensor xw = Tensor.zeros(CPU, DType.F32, batch, 1, h);
        Tensor out;
        try (Autocast.Guard g = Autocast.enable(t)) {
            out = dev.ballast.engine.Recurrence.rnn(xw, w, null, h0);
        }
        double[] hv = h0.toDoubleArray(), wv = w.toDoubleArray(), ov = out.toDoubleArray();
        int off = 0;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < h; j++) {
                double acc = 0;
                for (int q = 0; q < h; q++) acc += lowValue(t, hv[b * h + q]) * lowValue(t, wv[j * h + q]);
                double ref = Math.tanh(lowValue(t, acc));
                if (Math.abs(ov[b * h + j] - ref) > 1e-6 * Math.abs(ref) + 1e-7) off++;
            }
        // F32 accumulation may round a sum to the other neighbour of the low type once in a while, not more
        assertTrue(off <= 1, off + " of " + batch * h + " outputs are not tanh of the " + t + " product");
        out.mul(Tensor.randn(gen, CPU, batch, 1, h)).sum().backward();
        for (Tensor g : List.of(h0.grad(), w.grad()))
            for (double v : g.toDoubleArray()) assertEquals(lowValue(t, v), v, "gradient entry " + v + " is not a " + t + " value");
    }

    private static double lowValue(DType t, double v) {
        return Tensor.scalar(CPU, DType.F64, v).to(t).to(DType.F64).item();
    }

    /** Forward (fused layer, or the cell written out step by step) under autocast {@code t} (null: off), sum backward. */
    private Outcome run(RecurrentLayer layer, Tensor x0, DType t, boolean unrolled) {
        Tensor x = x0.detach().requiresGrad(true);
        for (Tensor q : layer.parameters()) q.zeroGrad();
        Tensor out;
        try (Autocast.Guard g = t == null ? Autocast.disable() : Autocast.enable(t)) {
            out = unrolled ? unrolledForward(layer, x) : layer.call(x);
        }
        // a fixed non-uniform upstream gradient, so every step and unit gets its own
        Tensor w = Tensor.arange(CPU, DType.F32, 0, out.numel(), 1).reshape(out.shape()).mul(0.37).sin();
        out.to(DType.F32).mul(w).sum().backward();
        Map<String, double[]> grads = new LinkedHashMap<>();
        grads.put("x", x.grad().toDoubleArray());
        for (var e : layer.namedParameters().entrySet()) grads.put(e.getKey(), e.getValue().grad().toDoubleArray());
        return new Outcome(out.to(DType.F32).toDoubleArray(), grads);
    }

    /** One layer, step by step, from engine ops: the unrolled graph RecurrentLayer uses where cells are not fused. */
    private static Tensor unrolledForward(RecurrentLayer layer, Tensor x) {
        Map<String, Tensor> p = layer.namedParameters();
        Tensor wIh = p.get("weight_ih_l0"), wHh = p.get("weight_hh_l0"), bIh = p.get("bias_ih_l0"), bHh = p.get("bias_hh_l0");
        long batch = x.size(0), time = x.size(1), h = layer.hiddenSize();
        boolean lstm = layer instanceof LSTM;
        Tensor hs = Tensor.zeros(CPU, DType.F32, batch, h), cs = Tensor.zeros(CPU, DType.F32, batch, h);
        List<Tensor> outs = new ArrayList<>();
        for (long s = 0; s < time; s++) {
            Tensor xw = x.select(1, s).matmul(Autocast.weight(wIh).mT());
            if (bIh != null) xw = xw.add(bIh);
            Tensor hw = hs.matmul(Autocast.weight(wHh).mT());
            if (bHh != null) hw = hw.add(bHh);
            Tensor pre = xw.add(hw);
            if (lstm) {
                Tensor i = pre.narrow(1, 0, h).sigmoid(), f = pre.narrow(1, h, h).sigmoid();
                Tensor gg = pre.narrow(1, 2 * h, h).tanh(), o = pre.narrow(1, 3 * h, h).sigmoid();
                cs = f.mul(cs).add(i.mul(gg));
                hs = o.mul(cs.tanh());
            } else {
                hs = pre.tanh();
            }
            outs.add(hs);
        }
        return Tensor.stack(outs, 1);
    }

    private static double rms(double[] a, double[] b) {
        double sq = 0;
        for (int i = 0; i < a.length; i++) sq += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(sq / a.length);
    }

    /** Every element within {@code rel} of the larger magnitude in {@code expected} (plus a tiny floor). */
    private static void assertClose(double[] expected, double[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        double scale = 0;
        for (double v : expected) scale = Math.max(scale, Math.abs(v));
        double tol = rel * scale + 1e-6;
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], tol, what + "[" + i + "] (tolerance " + tol + ")");
    }
}
