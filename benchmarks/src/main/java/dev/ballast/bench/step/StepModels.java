package dev.ballast.bench.step;

import static dev.ballast.bench.step.StepSpec.map;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Losses;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.ReLU;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.Tanh;
import dev.ballast.engine.optim.Adam;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The models of {@code ballast bench step}, built with Ballast's own layers. The first four are the CPU-speed
 * issue's reference table ({@code pytorch-cpu-steps.py}): the spirals MLP (19 tanh layers of 64 after a 2-64 input
 * layer, Adam 1e-3, batch 128), the vanilla RNN h100 and the LSTM h128 on the adding problem (T=50, batch 64; SGD
 * momentum 0.9 lr 0.1 and Adam 1e-3) and the 2-layer causal transformer d64 (4 heads, vocab 12, T=17, batch 64, Adam
 * 1e-3). The last three are {@code pytorch-e2e-steps.py}'s: MLP 50x512 ReLU (batch 256), LSTM h256 T=100 (batch 128)
 * and a decoder with 4 layers, d256, 4 heads, T=128, vocab 1000, final LayerNorm (batch 32), all with AdamW 1e-4.
 * Every step clips by global norm 1.0.
 */
public final class StepModels {
    private StepModels() {}

    /** Global-norm bound of every benchmarked step. */
    public static final double MAX_NORM = 1.0;

    /** The seven reference models, in table order. */
    public static List<StepSpec> reference() {
        return List.of(
                new StepSpec("mlp", "spirals MLP, 19 tanh layers of 64, Adam (batch 128)",
                        map("kind", "mlp", "batch", 128, "in", 2, "width", 64, "depth", 19, "out", 2, "act", "tanh",
                                "optimizer", "adam", "lr", 1e-3)),
                new StepSpec("rnn", "vanilla RNN h100, adding T=50, SGD momentum (batch 64)",
                        map("kind", "rnn", "batch", 64, "time", 50, "hidden", 100, "squeeze", false,
                                "optimizer", "sgd", "lr", 0.1, "momentum", 0.9)),
                new StepSpec("lstm", "LSTM h128, adding T=50, Adam (batch 64)",
                        map("kind", "lstm", "batch", 64, "time", 50, "hidden", 128, "squeeze", false, "optimizer", "adam", "lr", 1e-3)),
                new StepSpec("transformer", "2-layer causal transformer d64, 4 heads, copy task, Adam (batch 64)",
                        map("kind", "decoder", "batch", 64, "vocab", 12, "time", 17, "width", 64, "layers", 2, "heads", 4,
                                "final_norm", false, "optimizer", "adam", "lr", 1e-3)),
                new StepSpec("mlp50", "MLP 50x512 ReLU, AdamW (batch 256)",
                        map("kind", "mlp", "batch", 256, "in", 512, "width", 512, "depth", 50, "out", 10, "act", "relu",
                                "optimizer", "adamw", "lr", 1e-4)),
                new StepSpec("lstm256", "LSTM h256, adding T=100, AdamW (batch 128)",
                        map("kind", "lstm", "batch", 128, "time", 100, "hidden", 256, "squeeze", true, "optimizer", "adamw", "lr", 1e-4)),
                new StepSpec("gpt", "decoder L4 d256 4 heads T128 vocab 1000, AdamW (batch 32)",
                        map("kind", "decoder", "batch", 32, "vocab", 1000, "time", 128, "width", 256, "layers", 4, "heads", 4,
                                "final_norm", true, "optimizer", "adamw", "lr", 1e-4)));
    }

    /** The reference specs named in {@code names} (all when empty); an unknown name is an error listing the known ones. */
    public static List<StepSpec> select(List<String> names) {
        List<StepSpec> all = reference();
        if (names == null || names.isEmpty()) return all;
        List<String> known = all.stream().map(StepSpec::name).toList();
        for (String n : names)
            if (!known.contains(n)) throw new IllegalArgumentException("unknown model '" + n + "'; allowed: " + String.join(", ", known));
        return all.stream().filter(s -> names.contains(s.name())).toList();
    }

    /** The Ballast module of a spec, parameters initialized from {@code gen} on {@code device}. */
    public static Module module(StepSpec s, Device device, Generator gen) {
        ParamSpec ps = new ParamSpec(device, DType.F32, gen);
        return switch (s.kind()) {
            case "mlp" -> {
                Sequential seq = new Sequential();
                long prev = s.integer("in");
                for (int i = 0; i < s.integer("depth"); i++) {
                    seq.add(new Linear(prev, s.integer("width"), ps));
                    seq.add(switch (s.text("act")) {
                        case "tanh" -> new Tanh();
                        case "relu" -> new ReLU();
                        default -> throw new IllegalArgumentException("mlp activation must be tanh or relu, got " + s.text("act"));
                    });
                    prev = s.integer("width");
                }
                yield seq.add(new Linear(prev, s.integer("out"), ps));
            }
            case "rnn", "lstm" -> new RecurrentRegressor(s.kind().equals("lstm"), 2, s.integer("hidden"), s.flag("squeeze"), ps);
            case "decoder" -> new Decoder(s.integer("vocab"), s.integer("width"), s.integer("layers"), s.integer("heads"),
                    s.integer("time"), s.flag("final_norm"), ps);
            default -> throw new IllegalArgumentException("unknown model kind '" + s.kind() + "' (allowed: mlp, rnn, lstm, decoder)");
        };
    }

    /** The loss of a batch: cross-entropy for mlp and decoder (per position), mean squared error for the recurrent kinds. */
    public static Tensor loss(StepSpec s, Module model, Tensor x, Tensor y) {
        Tensor out = model.call(x);
        return switch (s.kind()) {
            case "mlp" -> Losses.crossEntropy(out, y);
            case "rnn", "lstm" -> Losses.mse(out, y);
            case "decoder" -> Losses.crossEntropy(out.reshape(-1, s.integer("vocab")), y.reshape(-1));
            default -> throw new IllegalArgumentException("unknown model kind '" + s.kind() + "'");
        };
    }

    /** The spec's optimizer over {@code params}: Adam, AdamW (weight decay 0.01, PyTorch's default) or SGD with momentum. */
    public static Optimizer optimizer(StepSpec s, List<Tensor> params) {
        double lr = s.number("lr");
        return switch (s.text("optimizer")) {
            case "adam" -> new Adam(params, lr);
            case "adamw" -> new AdamW(params, lr);
            case "sgd" -> new SGD(params, lr, s.number("momentum"), 0, 0, false);
            default -> throw new IllegalArgumentException("optimizer must be adam, adamw or sgd, got " + s.text("optimizer"));
        };
    }

    /** A random batch of the spec's shapes (inputs, targets), as step_models.build draws them. */
    public static Tensor[] batch(StepSpec s, Device device, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = s.integer("batch");
        return switch (s.kind()) {
            case "mlp" -> {
                int in = s.integer("in"), out = s.integer("out");
                float[] x = new float[b * in];
                for (int i = 0; i < x.length; i++) x[i] = (float) gaussian(r);
                long[] y = new long[b];
                for (int i = 0; i < b; i++) y[i] = r.nextInt(out);
                yield new Tensor[]{Tensor.fromArray(device, x, b, in), Tensor.fromArray(device, y, b)};
            }
            case "rnn", "lstm" -> {
                int t = s.integer("time");
                float[] x = new float[b * t * 2];
                float[] y = new float[b];
                for (int i = 0; i < b; i++) {
                    int m1 = r.nextInt(t / 2), m2 = t / 2 + r.nextInt(t - t / 2);
                    for (int j = 0; j < t; j++) {
                        float v = (float) r.nextDouble();
                        boolean marked = j == m1 || j == m2;
                        x[(i * t + j) * 2] = v;
                        x[(i * t + j) * 2 + 1] = marked ? 1 : 0;
                        if (marked) y[i] += v;
                    }
                }
                Tensor yt = s.flag("squeeze") ? Tensor.fromArray(device, y, b) : Tensor.fromArray(device, y, b, 1);
                yield new Tensor[]{Tensor.fromArray(device, x, b, t, 2), yt};
            }
            case "decoder" -> {
                int t = s.integer("time"), v = s.integer("vocab");
                long[] x = new long[b * t], y = new long[b * t];
                for (int i = 0; i < x.length; i++) { x[i] = r.nextInt(v); y[i] = r.nextInt(v); }
                yield new Tensor[]{Tensor.fromArray(device, x, b, t), Tensor.fromArray(device, y, b, t)};
            }
            default -> throw new IllegalArgumentException("unknown model kind '" + s.kind() + "'");
        };
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
