package dev.ballast.engine.nn;

import static dev.ballast.engine.GradCheck.awayFromZero;
import static dev.ballast.engine.GradCheck.normal;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.ballast.engine.DType;
import dev.ballast.engine.Generator;
import dev.ballast.engine.GradCheck;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every layer and loss against float64 finite differences, with respect to its inputs and all its parameters. */
class LayerGradCheckTest {
    private final Random rng = new Random(777);

    static ParamSpec f64(long seed) { return new ParamSpec(GradCheck.cpu(), DType.F64, new Generator(seed)); }

    /** Checks f with respect to the given inputs and every parameter of {@code m}. */
    private DynamicTest layer(String name, Module m, Supplier<Tensor> f, Tensor... inputs) {
        return dynamicTest(name, () -> {
            List<Tensor> wrt = new ArrayList<>(List.of(inputs));
            wrt.addAll(m.parameters());
            GradCheck.of(name, f, wrt).run();
        });
    }

    /** Moves every parameter off its init (LayerNorm's ones and zeros would hide mistakes). */
    private static <M extends Module> M perturbed(M m, long seed) {
        Generator g = new Generator(seed);
        for (Tensor p : m.parameters()) {
            try (dev.ballast.engine.autograd.GradMode.Guard ng = dev.ballast.engine.autograd.GradMode.noGrad();
                 Tensor noise = Tensor.randn(g, p.device(), p.shape()); Tensor n = noise.mul(0.3)) {
                p.addInPlace(n);
            }
        }
        return m;
    }

    @TestFactory
    Stream<DynamicTest> dense() {
        List<DynamicTest> t = new ArrayList<>();
        Linear lin = new Linear(4, 5, f64(1));
        Tensor x = normal(rng, 2, 3, 4);
        t.add(layer("Linear 3-D input", lin, () -> lin.call(x), x));
        Linear noBias = new Linear(4, 2, false, dev.ballast.engine.init.WeightInit.xavierUniform(1), f64(2));
        Tensor x2 = normal(rng, 5, 4);
        t.add(layer("Linear without bias", noBias, () -> noBias.call(x2), x2));
        Embedding emb = new Embedding(6, 3, f64(3));
        Tensor ids = Tensor.fromArray(GradCheck.cpu(), new long[]{1, 5, 1, 0, 3, 1}, 2, 3);
        t.add(layer("Embedding with repeated ids", emb, () -> emb.call(ids)));
        Sequential seq = new Sequential(new Linear(3, 4, f64(4)), new Tanh(), new Linear(4, 2, f64(5)));
        Tensor x3 = normal(rng, 3, 3);
        t.add(layer("Sequential Linear-Tanh-Linear", seq, () -> seq.call(x3), x3));
        Residual res = new Residual(new Sequential(new Linear(4, 4, f64(6)), new Sigmoid()));
        Tensor x4 = normal(rng, 2, 4);
        t.add(layer("Residual", res, () -> res.call(x4), x4));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> activations() {
        return Stream.of(new ReLU(), new LeakyReLU(0.2), new GELU(), new Tanh(), new Sigmoid()).map(m -> {
            Tensor x = awayFromZero(rng, 3, 4);
            return layer(m.getClass().getSimpleName(), m, () -> m.call(x), x);
        });
    }

    @TestFactory
    Stream<DynamicTest> normalization() {
        List<DynamicTest> t = new ArrayList<>();
        LayerNorm ln = perturbed(new LayerNorm(5, f64(7)), 70);
        Tensor x = normal(rng, 2, 3, 5);
        t.add(layer("LayerNorm last dim", ln, () -> ln.call(x), x));
        LayerNorm ln2 = perturbed(new LayerNorm(new long[]{3, 5}, 1e-5, true, f64(8)), 80);
        t.add(layer("LayerNorm last two dims", ln2, () -> ln2.call(x), x));
        LayerNorm ln3 = new LayerNorm(new long[]{5}, 1e-3, false, f64(9));
        t.add(layer("LayerNorm without affine", ln3, () -> ln3.call(x), x));
        BatchNorm1d bn = perturbed(new BatchNorm1d(3, f64(10)), 100);
        Tensor xn = normal(rng, 6, 3);
        t.add(layer("BatchNorm1d (N,C) training", bn, () -> bn.call(xn), xn));
        BatchNorm1d bn3 = perturbed(new BatchNorm1d(3, f64(11)), 110);
        Tensor xl = normal(rng, 4, 3, 5);
        t.add(layer("BatchNorm1d (N,C,L) training", bn3, () -> bn3.call(xl), xl));
        BatchNorm1d bnEval = perturbed(new BatchNorm1d(3, f64(12)), 120);
        Init.normal(bnEval.runningMean(), 0, 1, new Generator(121));
        Init.uniform(bnEval.runningVar(), 0.5, 2, new Generator(122));
        bnEval.eval();
        t.add(layer("BatchNorm1d (N,C,L) eval", bnEval, () -> bnEval.call(xl), xl));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> dropout() {
        Tensor x = normal(rng, 4, 5);
        // a fresh generator per evaluation gives the same mask every time, as gradcheck needs
        return Stream.of(dynamicTest("Dropout training", () -> GradCheck.check("Dropout",
                () -> new Dropout(0.4, new Generator(99)).call(x), x)));
    }

    @TestFactory
    Stream<DynamicTest> recurrent() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor x = normal(rng, 2, 3, 3);
        RNN rnn = new RNN(3, 4, 2, f64(20));
        Tensor h0 = normal(rng, 2, 2, 4);
        t.add(layer("RNN 2 layers, output", rnn, () -> rnn.call(x), x));
        t.add(layer("RNN 2 layers, final state from h0", rnn, () -> rnn.call(x, h0).hN(), x, h0));
        GRU gru = new GRU(3, 4, 2, f64(21));
        t.add(layer("GRU 2 layers, output and state", gru, () -> {
            RecurrentOutput o = gru.call(x, h0);
            return Tensor.concat(List.of(o.output().reshape(-1), o.hN().reshape(-1)), 0);
        }, x, h0));
        LSTM lstm = new LSTM(3, 4, 2, f64(22));
        Tensor c0 = normal(rng, 2, 2, 4);
        t.add(layer("LSTM 2 layers, output and states", lstm, () -> {
            LSTM.Output o = lstm.call(x, new LSTM.State(h0, c0));
            return Tensor.concat(List.of(o.output().reshape(-1), o.state().h().reshape(-1), o.state().c().reshape(-1)), 0);
        }, x, h0, c0));
        LSTM noBias = new LSTM(3, 2, 1, false, f64(23));
        t.add(layer("LSTM without bias", noBias, () -> noBias.call(x), x));
        // 13 rows: the whole-layer kernels split the batch into one group of row strips per thread (on a machine of
        // two or more cores), so the loop of each group, its first and last steps and dh0/dc0 are checked per group.
        Tensor xb = normal(rng, 13, 3, 3), hb = normal(rng, 1, 13, 5), cb = normal(rng, 1, 13, 5);
        LSTM wide = new LSTM(3, 5, 1, f64(24));
        t.add(layer("LSTM batch 13, output and states", wide, () -> {
            LSTM.Output o = wide.call(xb, new LSTM.State(hb, cb));
            return Tensor.concat(List.of(o.output().reshape(-1), o.state().h().reshape(-1), o.state().c().reshape(-1)), 0);
        }, xb, hb, cb));
        RNN wideRnn = new RNN(3, 5, 1, f64(25));
        t.add(layer("RNN batch 13, output and state", wideRnn, () -> {
            RecurrentOutput o = wideRnn.call(xb, hb);
            return Tensor.concat(List.of(o.output().reshape(-1), o.hN().reshape(-1)), 0);
        }, xb, hb));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> attention() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor x = normal(rng, 2, 4, 8);
        MultiHeadSelfAttention full = perturbed(new MultiHeadSelfAttention(8, 2, false, f64(30)), 300);
        t.add(layer("MultiHeadSelfAttention", full, () -> full.call(x), x));
        MultiHeadSelfAttention causal = perturbed(new MultiHeadSelfAttention(8, 2, true, f64(31)), 310);
        t.add(layer("MultiHeadSelfAttention causal", causal, () -> causal.call(x), x));
        TransformerBlock block = perturbed(new TransformerBlock(8, 2, true, f64(32)), 320);
        Tensor xb = normal(rng, 2, 3, 8);
        t.add(layer("TransformerBlock", block, () -> block.call(xb), xb));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> losses() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor p = normal(rng, 3, 4), y = normal(rng, 3, 4);
        t.add(dynamicTest("mse", () -> GradCheck.check("mse", () -> Losses.mse(p, y), p, y)));
        Tensor logits = normal(rng, 5, 4);
        Tensor target = Tensor.fromArray(GradCheck.cpu(), new long[]{3, -100, 0, 2, 3}, 5);
        t.add(dynamicTest("crossEntropy", () -> GradCheck.check("ce", () -> Losses.crossEntropy(logits, target), logits)));
        t.add(dynamicTest("crossEntropy ignoreIndex 2 + smoothing", () -> GradCheck.check("ce smooth",
                () -> Losses.crossEntropy(logits, Tensor.fromArray(GradCheck.cpu(), new long[]{3, 1, 0, 2, 2}, 5), 2, 0.2), logits)));
        Tensor l3 = normal(rng, 2, 3, 4);
        Tensor t3 = Tensor.fromArray(GradCheck.cpu(), new long[]{0, 2, 1, -100, 1, 1, 0, 2}, 2, 4);
        t.add(dynamicTest("crossEntropy [N,C,d] with smoothing", () -> GradCheck.check("ce 3-D",
                () -> Losses.crossEntropy(l3, t3, -100, 0.1), l3)));
        Tensor x = normal(rng, 3, 4).mul(3).detach().requiresGrad(true);
        Tensor prob = GradCheck.uniform(rng, 0, 1, 3, 4);
        t.add(dynamicTest("binaryCrossEntropyWithLogits", () -> GradCheck.check("bce",
                () -> Losses.binaryCrossEntropyWithLogits(x, prob), x, prob)));
        return t.stream();
    }
}
