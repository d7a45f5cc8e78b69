package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Forward values against float64 host references, and the stateful behaviour of BatchNorm, Dropout and masking. */
class LayerBehaviourTest {
    private final Random rng = new Random(4242);

    static ParamSpec f64(long seed) { return LayerGradCheckTest.f64(seed); }

    private Tensor randn(long... shape) {
        double[] v = new double[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.fromArray(Device.cpu(), DType.F64, v, shape);
    }

    static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol * (1 + Math.abs(expected[i])),
                    what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
    }

    // ------------------------------------------------------------------ dense layers

    @Test
    void linearMatchesHost() {
        Linear lin = new Linear(4, 3, f64(1));
        Tensor x = randn(5, 4);
        double[] w = lin.weight().toDoubleArray(), b = lin.bias().toDoubleArray(), xv = x.toDoubleArray();
        double[] want = new double[15];
        for (int n = 0; n < 5; n++)
            for (int o = 0; o < 3; o++) {
                double s = b[o];
                for (int i = 0; i < 4; i++) s += xv[n * 4 + i] * w[o * 4 + i];
                want[n * 3 + o] = s;
            }
        close(want, lin.call(x).toDoubleArray(), 1e-12, "linear");
        assertThrows(IllegalArgumentException.class, () -> lin.call(randn(5, 3)));
    }

    @Test
    void embeddingLooksUpRowsAndAccumulatesRepeatedGradients() {
        Embedding emb = new Embedding(5, 3, f64(2));
        Tensor ids = Tensor.fromArray(Device.cpu(), new long[]{4, 1, 4}, 3);
        Tensor y = emb.call(ids);
        assertArrayEquals(new long[]{3, 3}, y.shape());
        double[] w = emb.weight().toDoubleArray();
        assertArrayEquals(Arrays.copyOfRange(w, 12, 15), Arrays.copyOfRange(y.toDoubleArray(), 0, 3));
        y.sum().backward();
        double[] g = emb.weight().grad().toDoubleArray();
        assertArrayEquals(new double[]{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2}, g);
    }

    @Test
    void layerNormMatchesHost() {
        LayerNorm ln = new LayerNorm(6, f64(3));
        Tensor x = randn(4, 6);
        double[] xv = x.toDoubleArray(), want = new double[24];
        for (int r = 0; r < 4; r++) {
            double m = 0, v = 0;
            for (int i = 0; i < 6; i++) m += xv[r * 6 + i] / 6;
            for (int i = 0; i < 6; i++) v += Math.pow(xv[r * 6 + i] - m, 2) / 6;
            for (int i = 0; i < 6; i++) want[r * 6 + i] = (xv[r * 6 + i] - m) / Math.sqrt(v + 1e-5);
        }
        close(want, ln.call(x).toDoubleArray(), 1e-12, "layernorm");
    }

    // ------------------------------------------------------------------ BatchNorm

    @Test
    void batchNormTracksRunningStatisticsAndUsesThemInEval() {
        BatchNorm1d bn = new BatchNorm1d(3, f64(4));
        double[] rm = {0, 0, 0}, rv = {1, 1, 1};
        for (int step = 0; step < 2; step++) {
            Tensor x = randn(5, 3, 2).mul(2).add(1.5); // (N, C, L): statistics over N and L
            double[] xv = x.toDoubleArray();
            double[] out = bn.call(x).toDoubleArray();
            for (int c = 0; c < 3; c++) {
                double m = 0, ss = 0;
                for (int n = 0; n < 5; n++) for (int l = 0; l < 2; l++) m += xv[n * 6 + c * 2 + l] / 10;
                for (int n = 0; n < 5; n++) for (int l = 0; l < 2; l++) ss += Math.pow(xv[n * 6 + c * 2 + l] - m, 2);
                double biased = ss / 10, unbiased = ss / 9;
                for (int n = 0; n < 5; n++)
                    for (int l = 0; l < 2; l++) {
                        int i = n * 6 + c * 2 + l;
                        assertEquals((xv[i] - m) / Math.sqrt(biased + 1e-5), out[i], 1e-10, "train output");
                    }
                rm[c] = 0.9 * rm[c] + 0.1 * m;
                rv[c] = 0.9 * rv[c] + 0.1 * unbiased;
            }
            close(rm, bn.runningMean().toDoubleArray(), 1e-12, "running mean after step " + step);
            close(rv, bn.runningVar().toDoubleArray(), 1e-12, "running var after step " + step);
        }
        assertEquals(2, bn.batchesTracked());
        bn.eval();
        double[] frozen = bn.runningMean().toDoubleArray();
        Tensor x = randn(4, 3);
        double[] xv = x.toDoubleArray(), out = bn.call(x).toDoubleArray();
        for (int n = 0; n < 4; n++)
            for (int c = 0; c < 3; c++)
                assertEquals((xv[n * 3 + c] - rm[c]) / Math.sqrt(rv[c] + 1e-5), out[n * 3 + c], 1e-10, "eval output");
        assertArrayEquals(frozen, bn.runningMean().toDoubleArray(), "eval leaves running mean alone");
        assertEquals(2, bn.batchesTracked());
        bn.train();
        assertThrows(IllegalArgumentException.class, () -> bn.call(randn(1, 3)), "one value per channel");
        assertThrows(IllegalArgumentException.class, () -> bn.call(randn(4, 2)), "wrong channel count");
    }

    // ------------------------------------------------------------------ Dropout

    @Test
    void dropoutIsDeterministicBySeedScaledAndIdentityInEval() {
        Tensor x = randn(100, 100);
        double[] xv = x.toDoubleArray();
        Dropout a = new Dropout(0.3, new Generator(5)), b = new Dropout(0.3, new Generator(5)), c = new Dropout(0.3, new Generator(6));
        double[] ya = a.call(x).toDoubleArray();
        assertArrayEquals(ya, b.call(x).toDoubleArray(), "same seed, same mask");
        assertFalse(Arrays.equals(ya, c.call(x).toDoubleArray()), "another seed, another mask");
        assertFalse(Arrays.equals(ya, a.call(x).toDoubleArray()), "the stream advances between calls");
        int zeros = 0;
        for (int i = 0; i < xv.length; i++) {
            if (ya[i] == 0) zeros++;
            else assertEquals(xv[i] / 0.7, ya[i], 1e-12, "survivors scaled by 1/(1-p)");
        }
        assertEquals(0.3, zeros / 10000.0, 0.02, "drop fraction");
        a.eval();
        assertSame(x, a.call(x), "eval is the identity");
        Dropout none = new Dropout(0, new Generator(1));
        assertArrayEquals(xv, none.call(x).toDoubleArray());
        Tensor f32 = Tensor.randn(new Generator(3), Device.cpu(), 4, 4);
        assertEquals(DType.F32, new Dropout(0.5, new Generator(1)).call(f32).dtype());
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1.5, new Generator(1)));
    }

    // ------------------------------------------------------------------ attention

    /** Host reference of multi-head self-attention with torch's parameter layout. */
    static double[] hostAttention(MultiHeadSelfAttention m, double[] x, int b, int t, int e, int heads, boolean causal) {
        var p = m.namedParameters();
        double[] win = p.get("in_proj_weight").toDoubleArray(), bin = p.get("in_proj_bias").toDoubleArray();
        double[] wo = p.get("out_proj.weight").toDoubleArray(), bo = p.get("out_proj.bias").toDoubleArray();
        int dh = e / heads;
        double[] out = new double[b * t * e];
        for (int bi = 0; bi < b; bi++) {
            double[][] qkv = new double[t][3 * e];
            for (int ti = 0; ti < t; ti++)
                for (int o = 0; o < 3 * e; o++) {
                    double s = bin[o];
                    for (int i = 0; i < e; i++) s += x[(bi * t + ti) * e + i] * win[o * e + i];
                    qkv[ti][o] = s;
                }
            double[][] ctx = new double[t][e];
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < t; i++) {
                    double[] sc = new double[t];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < t; j++) {
                        if (causal && j > i) { sc[j] = Double.NEGATIVE_INFINITY; continue; }
                        double s = 0;
                        for (int d = 0; d < dh; d++) s += qkv[i][h * dh + d] * qkv[j][e + h * dh + d];
                        sc[j] = s / Math.sqrt(dh);
                        max = Math.max(max, sc[j]);
                    }
                    double z = 0;
                    for (int j = 0; j < t; j++) { sc[j] = Math.exp(sc[j] - max); z += sc[j]; }
                    for (int j = 0; j < t; j++)
                        for (int d = 0; d < dh; d++) ctx[i][h * dh + d] += sc[j] / z * qkv[j][2 * e + h * dh + d];
                }
            for (int ti = 0; ti < t; ti++)
                for (int o = 0; o < e; o++) {
                    double s = bo[o];
                    for (int i = 0; i < e; i++) s += ctx[ti][i] * wo[o * e + i];
                    out[(bi * t + ti) * e + o] = s;
                }
        }
        return out;
    }

    @Test
    void attentionMatchesHost() {
        for (boolean causal : new boolean[]{false, true}) {
            MultiHeadSelfAttention m = new MultiHeadSelfAttention(8, 2, causal, f64(7));
            Tensor x = randn(2, 5, 8);
            close(hostAttention(m, x.toDoubleArray(), 2, 5, 8, 2, causal), m.call(x).toDoubleArray(), 1e-11, "attention causal=" + causal);
        }
    }

    @Test
    void causalOutputIgnoresLaterInputs() {
        for (Module m : new Module[]{new MultiHeadSelfAttention(8, 2, true, f64(8)), new TransformerBlock(8, 4, true, f64(9))}) {
            Tensor x = randn(2, 6, 8);
            double[] xv = x.toDoubleArray();
            double[] changed = xv.clone();
            for (int bi = 0; bi < 2; bi++) for (int ti = 4; ti < 6; ti++) for (int i = 0; i < 8; i++) changed[(bi * 6 + ti) * 8 + i] += 3;
            double[] y1 = m.call(x).toDoubleArray();
            double[] y2 = m.call(Tensor.fromArray(Device.cpu(), DType.F64, changed, 2, 6, 8)).toDoubleArray();
            for (int bi = 0; bi < 2; bi++)
                for (int ti = 0; ti < 6; ti++)
                    for (int i = 0; i < 8; i++) {
                        int k = (bi * 6 + ti) * 8 + i;
                        if (ti < 4) assertEquals(y1[k], y2[k], 1e-12, m.getClass().getSimpleName() + " t=" + ti);
                    }
            assertFalse(Arrays.equals(Arrays.copyOfRange(y1, 32, 40), Arrays.copyOfRange(y2, 32, 40)), "t=4 sees its own input");
            // and in gradients: d y[:, 2] / d x[:, t > 2] = 0
            Tensor xg = Tensor.fromArray(Device.cpu(), DType.F64, xv, 2, 6, 8).requiresGrad(true);
            m.call(xg).select(1, 2).sum().backward();
            double[] g = xg.grad().toDoubleArray();
            for (int bi = 0; bi < 2; bi++)
                for (int ti = 0; ti < 6; ti++) {
                    double norm = 0;
                    for (int i = 0; i < 8; i++) norm += Math.abs(g[(bi * 6 + ti) * 8 + i]);
                    if (ti > 2) assertEquals(0, norm, "gradient reaches a later input t=" + ti);
                    else assertTrue(norm > 0, "no gradient to an earlier input t=" + ti);
                }
        }
        // without the mask, early outputs do depend on later inputs
        MultiHeadSelfAttention full = new MultiHeadSelfAttention(8, 2, false, f64(10));
        Tensor x = randn(1, 3, 8);
        double[] y1 = full.call(x).toDoubleArray();
        double[] y2 = full.call(x.add(Tensor.fromArray(Device.cpu(), DType.F64, new double[]{0, 0, 1}, 3, 1))).toDoubleArray();
        assertFalse(Arrays.equals(Arrays.copyOfRange(y1, 0, 8), Arrays.copyOfRange(y2, 0, 8)));
    }

    // ------------------------------------------------------------------ recurrent layers

    private static double sig(double v) { return 1 / (1 + Math.exp(-v)); }

    /** Host reference of RNN (g=1), LSTM (g=4) and GRU (g=3) with PyTorch's gate order. */
    static double[][] hostRecurrent(RecurrentLayer m, double[] x, int b, int t, int in, int hid, int layers, int kind) {
        var p = m.namedParameters();
        double[] seq = x;
        int inSize = in;
        double[] hN = new double[layers * b * hid], cN = new double[layers * b * hid];
        for (int l = 0; l < layers; l++) {
            double[] wih = p.get("weight_ih_l" + l).toDoubleArray(), whh = p.get("weight_hh_l" + l).toDoubleArray();
            double[] bih = p.get("bias_ih_l" + l).toDoubleArray(), bhh = p.get("bias_hh_l" + l).toDoubleArray();
            int g = kind * hid;
            double[] out = new double[b * t * hid];
            for (int bi = 0; bi < b; bi++) {
                double[] h = new double[hid], c = new double[hid];
                for (int ti = 0; ti < t; ti++) {
                    double[] xw = new double[g], hw = new double[g];
                    for (int o = 0; o < g; o++) {
                        double s = bih[o], r = bhh[o];
                        for (int i = 0; i < inSize; i++) s += seq[(bi * t + ti) * inSize + i] * wih[o * inSize + i];
                        for (int i = 0; i < hid; i++) r += h[i] * whh[o * hid + i];
                        xw[o] = s;
                        hw[o] = r;
                    }
                    double[] nh = new double[hid];
                    for (int k = 0; k < hid; k++) {
                        switch (kind) {
                            case 1 -> nh[k] = Math.tanh(xw[k] + hw[k]);
                            case 4 -> {
                                double ig = sig(xw[k] + hw[k]), fg = sig(xw[hid + k] + hw[hid + k]);
                                double gg = Math.tanh(xw[2 * hid + k] + hw[2 * hid + k]), og = sig(xw[3 * hid + k] + hw[3 * hid + k]);
                                c[k] = fg * c[k] + ig * gg;
                                nh[k] = og * Math.tanh(c[k]);
                            }
                            default -> {
                                double r = sig(xw[k] + hw[k]), z = sig(xw[hid + k] + hw[hid + k]);
                                double n = Math.tanh(xw[2 * hid + k] + r * hw[2 * hid + k]);
                                nh[k] = (1 - z) * n + z * h[k];
                            }
                        }
                    }
                    h = nh;
                    System.arraycopy(h, 0, out, (bi * t + ti) * hid, hid);
                }
                System.arraycopy(h, 0, hN, (l * b + bi) * hid, hid);
                System.arraycopy(c, 0, cN, (l * b + bi) * hid, hid);
            }
            seq = out;
            inSize = hid;
        }
        return new double[][]{seq, hN, cN};
    }

    @Test
    void recurrentLayersMatchHostWithPyTorchGateOrder() {
        Tensor x = randn(2, 4, 3);
        double[] xv = x.toDoubleArray();
        RNN rnn = new RNN(3, 5, 2, f64(11));
        double[][] r = hostRecurrent(rnn, xv, 2, 4, 3, 5, 2, 1);
        RecurrentOutput ro = rnn.call(x, null);
        close(r[0], ro.output().toDoubleArray(), 1e-12, "rnn output");
        close(r[1], ro.hN().toDoubleArray(), 1e-12, "rnn hN");
        assertArrayEquals(new long[]{2, 2, 5}, ro.hN().shape());

        LSTM lstm = new LSTM(3, 5, 2, f64(12));
        double[][] l = hostRecurrent(lstm, xv, 2, 4, 3, 5, 2, 4);
        LSTM.Output lo = lstm.call(x, null);
        close(l[0], lo.output().toDoubleArray(), 1e-12, "lstm output");
        close(l[1], lo.state().h().toDoubleArray(), 1e-12, "lstm hN");
        close(l[2], lo.state().c().toDoubleArray(), 1e-12, "lstm cN");
        assertArrayEquals(lo.output().toDoubleArray(), lstm.call(x).toDoubleArray(), "call(x) is the output with zero states");

        GRU gru = new GRU(3, 5, 1, f64(13));
        double[][] g = hostRecurrent(gru, xv, 2, 4, 3, 5, 1, 3);
        RecurrentOutput go = gru.call(x, null);
        close(g[0], go.output().toDoubleArray(), 1e-12, "gru output");
        close(g[1], go.hN().toDoubleArray(), 1e-12, "gru hN");
        assertEquals(java.util.List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                java.util.List.copyOf(gru.namedParameters().keySet()));
        assertArrayEquals(new long[]{15, 3}, gru.namedParameters().get("weight_ih_l0").shape());

        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> lstm.call(randn(2, 4, 2)));
        assertTrue(bad.getMessage().contains("[batch, time, 3]"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> lstm.call(x, new LSTM.State(randn(1, 2, 5), null)));
    }

    @Test
    void recurrentInitIsUniformWithinOneOverSqrtHidden() {
        LSTM lstm = new LSTM(6, 16, 1, ParamSpec.seeded(14));
        double bound = 1 / Math.sqrt(16);
        for (var e : lstm.namedParameters().entrySet()) {
            double max = 0;
            for (double v : e.getValue().toDoubleArray()) max = Math.max(max, Math.abs(v));
            assertTrue(max <= bound * (1 + 1e-6) && max > 0.8 * bound, e.getKey() + " max |w| " + max);
        }
    }
}
