package dev.ballast.engine;

import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.FusedCells;
import dev.ballast.engine.backend.FusedRecurrentLayers;
import java.util.List;
import java.util.Optional;

/**
 * Whole recurrent layers as single autograd ops, on backends with {@link FusedCells}: the time loop runs outside
 * autograd (one matmul {@code h W_hh^T} and one fused cell kernel per step), and backward is one reverse loop (one
 * cell-backward kernel and one matmul {@code dPre W_hh} per step) followed by one large matmul for {@code dW_hh}
 * over all steps and one sum for the bias, as cuDNN's RNN does. The input projection {@code x W_ih^T} of all steps
 * is the caller's (one matmul, in autograd); the bias argument is whatever the caller adds to every step's
 * pre-activations ({@code RecurrentLayer} passes {@code b_ih + b_hh}). Callers check {@link #supported} first.
 *
 * <p>Under {@link Autocast} (F16/BF16) the three products ({@code h W_hh^T} forward, {@code dPre W_hh} and
 * {@code dW_hh} backward) take low-precision operands (the weight's working copy when the optimizer keeps one) and
 * accumulate in F32, their results rounded to the low precision as every autocast product's are, then widened for
 * the F32 cell kernels: the same arithmetic as the unrolled graph under autocast. The mode is the one in force when
 * the layer runs forward; backward uses it too, although autograd's backward itself runs with autocast off.
 *
 * <p>Where the backend has {@link FusedRecurrentLayers} (and autocast is off), the whole time loop is one backend call
 * forward and one backward instead: the backend packs {@code W_hh} once per layer and call, and splits the batch across
 * its threads for the whole loop. The arithmetic, and so every bit of the result, is the step-by-step path's.
 */
public final class Recurrence {
    private Recurrence() {}

    /** Whether the fused layers serve {@code xw}'s backend and dtype (F32 or F64). */
    public static boolean supported(Tensor xw) {
        return xw.backend().fusedCells().isPresent() && (xw.dtype == DType.F32 || xw.dtype == DType.F64);
    }

    private static FusedCells cells(Tensor xw) {
        if (!supported(xw))
            throw new IllegalArgumentException("fused recurrence needs a backend with fused cells and f32/f64 operands; got "
                    + xw.device.name() + " " + xw.dtype);
        return xw.backend().fusedCells().orElseThrow();
    }

    /**
     * An LSTM layer over input projections {@code xw [B, T, 4H]} (gates i, f, g, o; {@code b_ih} included) from states
     * {@code h0, c0 [B, H]}: returns {@code [B, T, 2H]} holding {@code h_t} in the first H columns and {@code c_t} in
     * the last H. {@code bHh} may be null.
     */
    public static Tensor lstm(Tensor xw, Tensor wHh, Tensor bHh, Tensor h0, Tensor c0) {
        FusedCells k = cells(xw);
        long b = xw.size(0), t = xw.size(1), h = wHh.size(1);
        DType low = Autocast.dtype();
        Tensor out = Tensor.empty(xw.device, xw.dtype, b, t, 2 * h);
        Tensor gates = Tensor.empty(xw.device, xw.dtype, b, t, 4 * h);
        Optional<FusedRecurrentLayers> whole = layers(low, xw, wHh, bHh, h0, c0);
        if (whole.isPresent()) {
            FusedRecurrentLayers f = whole.get();
            Tensor hh0 = unitColumns(h0), cc0 = unitColumns(c0), bias = bHh == null ? null : unitColumns(bHh);
            try (GradMode.Guard ng = GradMode.noGrad(); Tensor work = Tensor.empty(xw.device, xw.dtype, b, 4 * h)) {
                f.lstmForward(unitColumns(xw).view(), wHh.view(), bias == null ? null : bias.view(), hh0.view(), cc0.view(),
                        gates.view(), out.view(), work.view());
            }
            return Ops.record(out, "lstm", g -> lstmLayerBackward(f, g, xw, wHh, bHh, h0, c0, out, gates), xw, wHh, bHh, h0, c0);
        }
        try (GradMode.Guard ng = GradMode.noGrad(); Autocast.Guard off = Autocast.disable()) {
            Tensor wT = lowWeight(wHh, low).mT().contiguous(); // packed fast by every step's matmul (a transposed view is gathered element by element)
            for (long s = 0; s < t; s++) {
                try (Scope sc = Scope.open()) {
                    Tensor prev = s == 0 ? null : out.select(1, s - 1);
                    Tensor hPrev = prev == null ? h0 : prev.narrow(1, 0, h), cPrev = prev == null ? c0 : prev.narrow(1, h, h);
                    Tensor hw = product(hPrev, wT, low, xw.dtype);
                    Tensor o = out.select(1, s);
                    k.lstmCellForward(xw.select(1, s).view(), hw.view(), bHh == null ? null : bHh.view(), cPrev.view(),
                            gates.select(1, s).view(), o.narrow(1, 0, h).view(), o.narrow(1, h, h).view());
                }
            }
            wT.close();
        }
        return Ops.record(out, "lstm", g -> lstmBackward(k, g, xw, wHh, bHh, h0, c0, out, gates, low), xw, wHh, bHh, h0, c0);
    }

    private static Tensor[] lstmBackward(FusedCells k, Tensor g, Tensor xw, Tensor wHh, Tensor bHh, Tensor h0, Tensor c0,
                                         Tensor out, Tensor gates, DType low) {
        long b = xw.size(0), t = xw.size(1), h = wHh.size(1);
        Tensor gc = g.strides[2] == 1 ? g : g.contiguous();
        Tensor dPre = Tensor.empty(xw.device, xw.dtype, b, t, 4 * h);
        Tensor dc = Tensor.zeros(xw.device, xw.dtype, b, h);
        Tensor dhNext = null;
        Tensor wLow = lowWeight(wHh, low);
        for (long s = t - 1; s >= 0; s--) {
            Tensor o = out.select(1, s), gs = gc.select(1, s), dp = dPre.select(1, s);
            Tensor cPrev = s == 0 ? c0 : out.select(1, s - 1).narrow(1, h, h);
            k.lstmCellBackward(gates.select(1, s).view(), cPrev.view(), o.narrow(1, h, h).view(), gs.narrow(1, 0, h).view(),
                    dhNext == null ? null : dhNext.view(), gs.narrow(1, h, h).view(), dc.view(), dp.view());
            if (s > 0 || h0.requiresGrad) dhNext = product(dp, wLow, low, xw.dtype);
        }
        Tensor dW = wHh.requiresGrad ? weightGrad(dPre, h0, out.narrow(2, 0, h), low) : null;
        Tensor dB = bHh != null && bHh.requiresGrad ? dPre.sum(new int[]{0, 1}, false) : null;
        return new Tensor[]{xw.requiresGrad ? dPre : null, dW, dB, h0.requiresGrad ? dhNext : null, c0.requiresGrad ? dc : null};
    }

    private static Tensor[] lstmLayerBackward(FusedRecurrentLayers f, Tensor g, Tensor xw, Tensor wHh, Tensor bHh, Tensor h0,
                                              Tensor c0, Tensor out, Tensor gates) {
        long b = xw.size(0), t = xw.size(1), h = wHh.size(1);
        Tensor dPre = Tensor.empty(xw.device, xw.dtype, b, t, 4 * h);
        Tensor dc = Tensor.empty(xw.device, xw.dtype, b, h);
        Tensor dh0 = h0.requiresGrad ? Tensor.empty(xw.device, xw.dtype, b, h) : null;
        try (Tensor work = Tensor.empty(xw.device, xw.dtype, b, h)) {
            f.lstmBackward(wHh.view(), gates.view(), out.view(), unitColumns(h0).view(), unitColumns(c0).view(),
                    unitColumns(g).view(), dPre.view(), dc.view(), dh0 == null ? null : dh0.view(), work.view());
        }
        Tensor dW = wHh.requiresGrad ? weightGrad(dPre, h0, out.narrow(2, 0, h), null) : null;
        Tensor dB = bHh != null && bHh.requiresGrad ? dPre.sum(new int[]{0, 1}, false) : null;
        return new Tensor[]{xw.requiresGrad ? dPre : null, dW, dB, dh0, c0.requiresGrad ? dc : null};
    }

    /** The backend's whole-layer loops when they serve these operands (all of one dtype) and autocast is off. */
    private static Optional<FusedRecurrentLayers> layers(DType low, Tensor xw, Tensor... others) {
        if (low != null) return Optional.empty();
        Optional<FusedRecurrentLayers> f = xw.backend().fusedRecurrentLayers();
        if (f.isEmpty() || !f.get().serves(xw.dtype)) return Optional.empty();
        for (Tensor o : others) if (o != null && (o.dtype != xw.dtype || o.device != xw.device)) return Optional.empty();
        return f;
    }

    /** {@code t}, or a contiguous copy where its last dimension is not unit-strided (the layer kernels read rows). */
    private static Tensor unitColumns(Tensor t) {
        return t.strides[t.strides.length - 1] == 1 || t.size(t.rank() - 1) <= 1 ? t : t.contiguous();
    }

    /**
     * {@code sum_t dPre_t^T h_{t-1}} as one matmul: the previous states of every step, h0 first, stacked to [B*T, H].
     * Computed as {@code (prev^T dPre)^T}: the same sums in the same order (each element one chain of multiply-adds
     * over the B*T rows, and {@code a*b == b*a} exactly), but the large operand, dPre ({@code [B*T, G*H]}), is the
     * row-major right-hand side, which a blocked product packs by plain row copies, instead of a transposed left-hand
     * side gathered column by column (on the CPU that packing cost as much as the product).
     */
    private static Tensor weightGrad(Tensor dPre, Tensor h0, Tensor hs, DType low) {
        long b = dPre.size(0), t = dPre.size(1), g = dPre.size(2), h = h0.size(1);
        Tensor prev = t == 1 ? h0.unsqueeze(1) : Tensor.concat(List.of(h0.unsqueeze(1), hs.narrow(1, 0, t - 1)), 1);
        return product(prev.reshape(b * t, h).mT(), dPre.reshape(b * t, g), low, dPre.dtype).mT().contiguous();
    }

    /**
     * {@code a b}: as it is without autocast ({@code low} null); else with both operands in {@code low} (F32
     * accumulation, result rounded to {@code low}) and the result widened to {@code dtype} for the F32 kernels.
     */
    private static Tensor product(Tensor a, Tensor b, DType low, DType dtype) {
        if (low == null) return a.matmul(b);
        try (Autocast.Guard off = Autocast.disable()) {
            return a.to(low).matmul(b.to(low)).to(dtype);
        }
    }

    /** The recurrent weight as the products take it: its working copy or a cast under autocast, itself otherwise. */
    private static Tensor lowWeight(Tensor w, DType low) {
        if (low == null) return w;
        Tensor copy = Autocast.currentCopy(w, low);
        return copy != null ? copy : w.to(low);
    }

    /** An Elman (tanh) layer over input projections {@code xw [B, T, H]} from {@code h0 [B, H]}: returns {@code h_t} as {@code [B, T, H]}. */
    public static Tensor rnn(Tensor xw, Tensor wHh, Tensor bHh, Tensor h0) {
        FusedCells k = cells(xw);
        long t = xw.size(1), h = wHh.size(1);
        DType low = Autocast.dtype();
        Tensor out = Tensor.empty(xw.device, xw.dtype, xw.size(0), t, h);
        Optional<FusedRecurrentLayers> whole = layers(low, xw, wHh, bHh, h0);
        if (whole.isPresent()) {
            FusedRecurrentLayers f = whole.get();
            Tensor hh0 = unitColumns(h0), bias = bHh == null ? null : unitColumns(bHh);
            try (GradMode.Guard ng = GradMode.noGrad(); Tensor work = Tensor.empty(xw.device, xw.dtype, xw.size(0), h)) {
                f.rnnForward(unitColumns(xw).view(), wHh.view(), bias == null ? null : bias.view(), hh0.view(), out.view(), work.view());
            }
            return Ops.record(out, "rnn", g -> rnnLayerBackward(f, g, xw, wHh, bHh, h0, out), xw, wHh, bHh, h0);
        }
        try (GradMode.Guard ng = GradMode.noGrad(); Autocast.Guard off = Autocast.disable()) {
            Tensor wT = lowWeight(wHh, low).mT().contiguous(); // packed fast by every step's matmul (a transposed view is gathered element by element)
            for (long s = 0; s < t; s++) {
                try (Scope sc = Scope.open()) {
                    Tensor hPrev = s == 0 ? h0 : out.select(1, s - 1);
                    Tensor hw = product(hPrev, wT, low, xw.dtype);
                    k.rnnCellForward(xw.select(1, s).view(), hw.view(), bHh == null ? null : bHh.view(), out.select(1, s).view());
                }
            }
            wT.close();
        }
        return Ops.record(out, "rnn", g -> rnnBackward(k, g, xw, wHh, bHh, h0, out, low), xw, wHh, bHh, h0);
    }

    private static Tensor[] rnnBackward(FusedCells k, Tensor g, Tensor xw, Tensor wHh, Tensor bHh, Tensor h0, Tensor out,
                                        DType low) {
        long b = xw.size(0), t = xw.size(1), h = wHh.size(1);
        Tensor gc = g.strides[2] == 1 ? g : g.contiguous();
        Tensor dPre = Tensor.empty(xw.device, xw.dtype, b, t, h);
        Tensor dhNext = null;
        Tensor wLow = lowWeight(wHh, low);
        for (long s = t - 1; s >= 0; s--) {
            Tensor dp = dPre.select(1, s);
            k.rnnCellBackward(out.select(1, s).view(), gc.select(1, s).view(), dhNext == null ? null : dhNext.view(), dp.view());
            if (s > 0 || h0.requiresGrad) dhNext = product(dp, wLow, low, xw.dtype);
        }
        Tensor dW = wHh.requiresGrad ? weightGrad(dPre, h0, out, low) : null;
        Tensor dB = bHh != null && bHh.requiresGrad ? dPre.sum(new int[]{0, 1}, false) : null;
        return new Tensor[]{xw.requiresGrad ? dPre : null, dW, dB, h0.requiresGrad ? dhNext : null};
    }

    private static Tensor[] rnnLayerBackward(FusedRecurrentLayers f, Tensor g, Tensor xw, Tensor wHh, Tensor bHh, Tensor h0,
                                             Tensor out) {
        long b = xw.size(0), t = xw.size(1), h = wHh.size(1);
        Tensor dPre = Tensor.empty(xw.device, xw.dtype, b, t, h);
        Tensor dh0 = h0.requiresGrad ? Tensor.empty(xw.device, xw.dtype, b, h) : null;
        try (Tensor work = Tensor.empty(xw.device, xw.dtype, b, h)) {
            f.rnnBackward(wHh.view(), out.view(), unitColumns(h0).view(), unitColumns(g).view(), dPre.view(),
                    dh0 == null ? null : dh0.view(), work.view());
        }
        Tensor dW = wHh.requiresGrad ? weightGrad(dPre, h0, out, null) : null;
        Tensor dB = bHh != null && bHh.requiresGrad ? dPre.sum(new int[]{0, 1}, false) : null;
        return new Tensor[]{xw.requiresGrad ? dPre : null, dW, dB, dh0};
    }
}
