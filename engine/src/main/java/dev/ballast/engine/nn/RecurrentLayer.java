package dev.ballast.engine.nn;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.Recurrence;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The shared machinery of {@link RNN}, {@link LSTM} and {@link GRU}: stacked layers run over whole batch-first
 * sequences {@code [batch, time, features]}, with PyTorch's parameter names and layouts (per layer {@code l}:
 * weight_ih_l{l} {@code [G*H, in]}, weight_hh_l{l} {@code [G*H, H]}, bias_ih_l{l} and bias_hh_l{l}
 * {@code [G*H]}, G gate blocks stacked in PyTorch's order) and init (every parameter from U(-1/sqrt(H),
 * 1/sqrt(H)), drawn in registration order). On a backend with fused cells, RNN and LSTM layers run as one autograd
 * op per layer ({@link Recurrence}); otherwise, and for the GRU, backpropagation through time is the autograd graph
 * of the unrolled loop. States are {@code [layers, batch, hidden]} as in PyTorch.
 */
public abstract sealed class RecurrentLayer extends Module permits RNN, LSTM, GRU {
    protected final long inputSize;
    protected final long hiddenSize;
    protected final int numLayers;
    private final int gates;
    private final Tensor[] wIh;
    private final Tensor[] wHh;
    private final Tensor[] bIh;
    private final Tensor[] bHh;

    RecurrentLayer(long inputSize, long hiddenSize, int numLayers, boolean bias, int gates, ParamSpec spec) {
        String kind = getClass().getSimpleName();
        if (inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0)
            throw new IllegalArgumentException(kind + ": inputSize, hiddenSize and numLayers must be positive, got "
                    + inputSize + ", " + hiddenSize + ", " + numLayers);
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.gates = gates;
        wIh = new Tensor[numLayers];
        wHh = new Tensor[numLayers];
        bIh = new Tensor[numLayers];
        bHh = new Tensor[numLayers];
        double bound = 1 / Math.sqrt(hiddenSize);
        long g = gates * hiddenSize;
        for (int l = 0; l < numLayers; l++) {
            long in = l == 0 ? inputSize : hiddenSize;
            wIh[l] = registerParameter("weight_ih_l" + l, Init.uniform(spec.empty(g, in), -bound, bound, spec.generator()));
            wHh[l] = registerParameter("weight_hh_l" + l, Init.uniform(spec.empty(g, hiddenSize), -bound, bound, spec.generator()));
            if (bias) {
                bIh[l] = registerParameter("bias_ih_l" + l, Init.uniform(spec.empty(g), -bound, bound, spec.generator()));
                bHh[l] = registerParameter("bias_hh_l" + l, Init.uniform(spec.empty(g), -bound, bound, spec.generator()));
            }
        }
    }

    public long inputSize() { return inputSize; }

    public long hiddenSize() { return hiddenSize; }

    public int numLayers() { return numLayers; }

    /** Number of state tensors a step carries: 1 (h), or 2 (h, c) for the LSTM. */
    abstract int stateCount();

    /**
     * One time step of one layer: {@code xw = x_t W_ih^T + b_ih} and {@code hw = h W_hh^T + b_hh}, both
     * {@code [B, G*H]}; returns the new states, the hidden state first.
     */
    abstract Tensor[] cell(Tensor xw, Tensor hw, Tensor[] state);

    /** Gate block {@code k} (of size H) of a {@code [B, G*H]} tensor. */
    final Tensor gate(Tensor t, int k) { return t.narrow(1, k * hiddenSize, hiddenSize); }

    /** The outputs of the last layer {@code [B, T, H]} and each state's final value per layer {@code [L, B, H]}. */
    record Run(Tensor output, Tensor[] finals) {}

    /** Runs all layers over {@code x}; {@code initial} holds one {@code [L, B, H]} tensor per state, or null for zeros. */
    final Run run(Tensor x, Tensor[] initial) {
        String kind = getClass().getSimpleName();
        long[] s = x.shape();
        if (s.length != 3 || s[2] != inputSize)
            throw new IllegalArgumentException(kind + " at '" + path() + "': input must be [batch, time, " + inputSize
                    + "] (batch first), got " + Arrays.toString(s));
        long batch = s[0], time = s[1];
        if (time == 0) throw new IllegalArgumentException(kind + " at '" + path() + "': sequence length is 0");
        long[] stateShape = {numLayers, batch, hiddenSize};
        Tensor[] init = new Tensor[stateCount()];
        for (int i = 0; i < init.length; i++) {
            Tensor t = initial == null ? null : initial[i];
            if (t == null) {
                init[i] = Tensor.zeros(x.device(), x.dtype(), stateShape);
            } else {
                if (!Arrays.equals(t.shape(), stateShape))
                    throw new IllegalArgumentException(kind + " at '" + path() + "': initial state " + i + " must be "
                            + Arrays.toString(stateShape) + " [layers, batch, hidden], got " + Arrays.toString(t.shape()));
                init[i] = t;
            }
        }
        if (!(this instanceof GRU) && Recurrence.supported(x)) return runFused(x, init);
        // Each layer reads a list of per-step inputs [B, in]: slices of x for the first layer, the previous layer's
        // outputs as they are for the others. Slicing one [B, T, G*H] input projection per step instead would make
        // every step's backward materialize (and then sum) a full [B, T, G*H] gradient: T times the memory traffic.
        List<Tensor> stepIn = new ArrayList<>((int) time);
        for (long t = 0; t < time; t++) stepIn.add(x.select(1, t));
        List<List<Tensor>> finals = new ArrayList<>();
        for (int i = 0; i < init.length; i++) finals.add(new ArrayList<>());
        for (int l = 0; l < numLayers; l++) {
            Tensor[] state = new Tensor[init.length];
            for (int i = 0; i < state.length; i++) state[i] = init[i].select(0, l);
            List<Tensor> outs = new ArrayList<>((int) time);
            for (long t = 0; t < time; t++) {
                Tensor xw = stepIn.get((int) t).matmul(Autocast.weight(wIh[l]).mT());
                if (bIh[l] != null) xw = xw.add(bIh[l]);
                Tensor hw = state[0].matmul(Autocast.weight(wHh[l]).mT());
                if (bHh[l] != null) hw = hw.add(bHh[l]);
                state = cell(xw, hw, state);
                outs.add(state[0]);
            }
            stepIn = outs;
            for (int i = 0; i < state.length; i++) finals.get(i).add(state[i]);
        }
        Tensor layerIn = Tensor.stack(stepIn, 1);
        Tensor[] fin = new Tensor[init.length];
        for (int i = 0; i < fin.length; i++) fin[i] = Tensor.stack(finals.get(i), 0);
        return new Run(layerIn, fin);
    }

    /**
     * The fused path for RNN and LSTM layers (see {@link Recurrence}): each layer's input projection for all steps in
     * one matmul, then the whole time loop as one autograd op. The output is made contiguous, as the unrolled path's.
     * Under {@link Autocast} the products (input projection, {@code h W_hh^T} and their gradients) run in the autocast
     * dtype with F32 accumulation, as the unrolled path's do, while the cells, states and gate pre-activations stay F32.
     */
    private Run runFused(Tensor x, Tensor[] init) {
        long batch = x.size(0), time = x.size(1);
        boolean lstm = this instanceof LSTM;
        Tensor layerIn = x;
        List<List<Tensor>> finals = new ArrayList<>();
        for (int i = 0; i < init.length; i++) finals.add(new ArrayList<>());
        for (int l = 0; l < numLayers; l++) {
            long in = layerIn.size(2);
            Tensor xw = layerIn.reshape(batch * time, in).matmul(Autocast.weight(wIh[l]).mT());
            if (xw.dtype() != x.dtype()) xw = xw.to(x.dtype()); // an autocast product: the cells take F32
            xw = xw.reshape(batch, time, gates * hiddenSize);
            Tensor bias = stepBias(bIh[l], bHh[l]);
            Tensor h0 = init[0].select(0, l);
            Tensor h;
            if (lstm) {
                Tensor out = Recurrence.lstm(xw, wHh[l], bias, h0, init[1].select(0, l));
                h = out.narrow(2, 0, hiddenSize);
                finals.get(1).add(out.narrow(2, hiddenSize, hiddenSize).select(1, time - 1));
            } else {
                h = Recurrence.rnn(xw, wHh[l], bias, h0);
            }
            finals.get(0).add(h.select(1, time - 1));
            layerIn = h;
        }
        Tensor[] fin = new Tensor[init.length];
        for (int i = 0; i < fin.length; i++) fin[i] = Tensor.stack(finals.get(i), 0);
        return new Run(layerIn.contiguous(), fin);
    }

    /**
     * The one bias the fused layers add to every step's pre-activations: {@code b_ih + b_hh} ({@code [G*H]}), either
     * alone where the other is absent, or null. Adding it once per step inside the time loop, instead of adding
     * {@code b_ih} to the whole {@code [B*T, G*H]} input projection first, saves a pass over that tensor forward and
     * one column sum of {@code dPre} backward (both biases get the same gradient, {@code dPre} summed over batch and
     * time, which autograd hands from the sum to each). The pre-activations are {@code (x W_ih^T + h W_hh^T) +
     * (b_ih + b_hh)}, the same sum as PyTorch's in another order.
     */
    private static Tensor stepBias(Tensor bIh, Tensor bHh) {
        if (bIh == null) return bHh;
        return bHh == null ? bIh : bIh.add(bHh);
    }

    /** The last layer's outputs {@code [B, T, H]} from zero initial states. */
    @Override
    protected Tensor forward(Tensor x) { return run(x, null).output(); }

    /** Gate blocks per layer: 1 for the RNN, 4 for the LSTM, 3 for the GRU. */
    public int gateCount() { return gates; }
}
