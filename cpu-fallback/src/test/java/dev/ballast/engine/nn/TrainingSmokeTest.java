package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Layers compose into F32 models that train: a tiny causal language model and an LSTM regressor, plain SGD. */
class TrainingSmokeTest {

    static final class TinyLm extends Module {
        final Embedding tok;
        final Sequential blocks;
        final LayerNorm lnF;
        final Linear head;

        TinyLm(int vocab, int d, ParamSpec s) {
            tok = registerModule("tok", new Embedding(vocab, d, s));
            blocks = registerModule("blocks", new Sequential(new TransformerBlock(d, 2, true, s), new TransformerBlock(d, 2, true, s)));
            lnF = registerModule("ln_f", new LayerNorm(d, s));
            head = registerModule("head", new Linear(d, vocab, s));
        }

        @Override protected Tensor forward(Tensor ids) { return head.call(lnF.call(blocks.call(tok.call(ids)))); }
    }

    private static void sgd(Module m, double lr) {
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (Tensor p : m.parameters()) {
                try (Tensor step = p.grad().mul(-lr)) {
                    p.addInPlace(step);
                }
            }
        }
        m.zeroGrad();
    }

    @Test
    void tinyCausalLanguageModelLearnsAPattern() {
        int vocab = 5, t = 8, b = 2;
        TinyLm lm = new TinyLm(vocab, 16, ParamSpec.seeded(1));
        long[] ids = new long[b * t], next = new long[b * t];
        for (int i = 0; i < b * t; i++) { ids[i] = (i * 2 + i / t) % vocab; }
        for (int i = 0; i < b * t; i++) next[i] = (i % t == t - 1) ? -100 : ids[i + 1];
        Tensor x = Tensor.fromArray(Device.cpu(), ids, b, t), y = Tensor.fromArray(Device.cpu(), next, b, t);
        double first = 0, last = 0;
        for (int step = 0; step < 40; step++) {
            try (Scope s = Scope.open(); GradMode.Guard a = step == 0 ? GradMode.detectAnomaly() : () -> {}) {
                Tensor logits = lm.call(x); // [B, T, V] -> cross entropy wants [B, V, T]
                Tensor loss = Losses.crossEntropy(logits.permute(0, 2, 1), y, -100, 0.0);
                if (step == 0) first = loss.item();
                last = loss.item();
                loss.backward();
            }
            if (step == 0)
                for (var e : lm.namedParameters().entrySet()) {
                    assertNotNull(e.getValue().grad(), e.getKey());
                    for (double v : e.getValue().grad().toDoubleArray()) assertTrue(Double.isFinite(v), e.getKey());
                }
            sgd(lm, 0.1);
        }
        assertTrue(last < 0.5 * first, "loss went from " + first + " to " + last);
    }

    @Test
    void lstmLearnsToSumItsInputs() {
        Random rng = new Random(3);
        LSTM lstm = new LSTM(1, 8, 1, ParamSpec.seeded(2));
        Linear out = new Linear(8, 1, ParamSpec.seeded(3));
        float[] xs = new float[16 * 5];
        float[] ys = new float[16];
        for (int i = 0; i < 16; i++) for (int j = 0; j < 5; j++) { xs[i * 5 + j] = (float) (rng.nextDouble() - 0.5); ys[i] += xs[i * 5 + j]; }
        Tensor x = Tensor.fromArray(Device.cpu(), xs, 16, 5, 1), y = Tensor.fromArray(Device.cpu(), ys, 16, 1);
        double[] losses = new double[150];
        for (int step = 0; step < losses.length; step++) {
            try (Scope s = Scope.open()) {
                Tensor h = lstm.call(x, null).state().h().select(0, 0); // [B, H]
                Tensor loss = Losses.mse(out.call(h), y);
                losses[step] = loss.item();
                loss.backward();
            }
            sgd(lstm, 0.2);
            sgd(out, 0.2);
        }
        // Plain SGD at lr 0.2 reaches a loss near 0.02 by step 100 but then has brief spikes (up to 0.4-0.9 for a step
        // or two) whose timing depends on float rounding: judge the median of the last 21 steps, not the last one.
        double[] tail = java.util.Arrays.copyOfRange(losses, losses.length - 21, losses.length);
        java.util.Arrays.sort(tail);
        assertTrue(tail[10] < 0.3 * losses[0], "loss went from " + losses[0] + " to a median of " + tail[10] + " over the last 21 steps");
    }
}
