package dev.ballast.train.probe;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import dev.ballast.engine.init.WeightInit;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.ReLU;
import dev.ballast.engine.nn.Residual;
import dev.ballast.engine.nn.Sequential;

/**
 * The shattered-gradients probe (Balduzzi et al. 2017, "The Shattered Gradients Problem"): the derivative of a
 * network's (first) output with respect to its input along a line of {@code points} evenly spaced inputs
 * {@code x0 + t u}, t in [lo, hi], all in one batch, and the autocorrelation of that sequence. In deep plain
 * networks the gradients look like white noise (autocorrelation near 0 at lag 1); skip connections keep them
 * correlated.
 *
 * <pre>{@code
 * ShatterProbe.Result r = ShatterProbe.probe(model, 1, 256, -2, 2);
 * double lag1 = r.autocorrelation()[1];
 * }</pre>
 */
public final class ShatterProbe {
    private ShatterProbe() {}

    /** Inputs (the t of each point), directional derivatives, and the autocorrelation at lags 0..points/4. */
    public record Result(double[] t, double[] gradients, double[] autocorrelation) {
        /** Autocorrelation at lag 1. */
        public double lag1() { return autocorrelation[1]; }
    }

    /**
     * Probes {@code model} (input {@code [N, inputs]}, any output; the first output column is differentiated) along the
     * diagonal direction {@code u = (1,...,1)/sqrt(inputs)} through the origin, in eval mode and without touching its
     * parameters' gradients.
     */
    public static Result probe(Module model, int inputs, int points, double lo, double hi) {
        if (points < 8) throw new IllegalArgumentException("shatter probe: points must be >= 8, got " + points);
        if (!(hi > lo)) throw new IllegalArgumentException("shatter probe: the line's end (" + hi + ") must be above its start (" + lo + ")");
        Device device = model.parameters().isEmpty() ? Device.auto() : model.parameters().getFirst().device();
        double[] t = new double[points];
        double[] x = new double[points * inputs];
        double u = 1 / Math.sqrt(inputs);
        for (int i = 0; i < points; i++) {
            t[i] = lo + (hi - lo) * i / (points - 1);
            for (int j = 0; j < inputs; j++) x[i * inputs + j] = t[i] * u;
        }
        boolean training = model.isTraining();
        java.util.Map<Tensor, Tensor> saved = new java.util.IdentityHashMap<>();
        for (Tensor p : model.parameters()) saved.put(p, p.grad());
        model.eval();
        double[] g = new double[points];
        try (Scope s = Scope.open()) {
            Tensor in = Tensor.fromArray(device, DType.F32, x, points, inputs).requiresGrad(true);
            Tensor out = model.call(in);
            Tensor first = out.reshape(points, -1).narrow(1, 0, 1);
            first.sum().backward();
            double[] grad = in.grad().to(DType.F64).toDoubleArray();
            for (int i = 0; i < points; i++) {
                double d = 0;
                for (int j = 0; j < inputs; j++) d += grad[i * inputs + j] * u;
                g[i] = d;
            }
        } finally {
            model.train(training);
            for (var e : saved.entrySet()) e.getKey().setGrad(e.getValue());
        }
        return new Result(t, g, autocorrelation(g, Math.max(1, points / 4)));
    }

    /** Normalized autocorrelation {@code sum (g_i - m)(g_{i+k} - m) / sum (g_i - m)^2} for lags 0..maxLag. */
    public static double[] autocorrelation(double[] g, int maxLag) {
        double m = 0;
        for (double v : g) m += v;
        m /= g.length;
        double denom = 0;
        for (double v : g) denom += (v - m) * (v - m);
        double[] r = new double[maxLag + 1];
        for (int k = 0; k <= maxLag; k++) {
            double s = 0;
            for (int i = 0; i + k < g.length; i++) s += (g[i] - m) * (g[i + k] - m);
            r[k] = denom == 0 ? (k == 0 ? 1 : 0) : s / denom;
        }
        return r;
    }

    /**
     * The paper's test networks on a scalar input: {@code depth} hidden ReLU layers of {@code width} (He-normal weights,
     * biases U(+-1/sqrt(fan_in))), plain or with each hidden layer in a skip connection {@code h + relu(W h + b)}, and
     * a linear output.
     */
    public static Module reluNet(Device device, int depth, int width, boolean residual, long seed) {
        if (depth < 1 || width < 1) throw new IllegalArgumentException("shatter probe: depth and width must be >= 1, got " + depth + ", " + width);
        ParamSpec spec = new ParamSpec(device, DType.F32, new Generator(seed));
        WeightInit he = new WeightInit.Scheme("kaiming-normal(relu)+bias",
                (w, g) -> Init.kaimingNormal(w, 0, Init.FanMode.FAN_IN, "relu", g), false);
        Sequential net = new Sequential();
        net.add(new Linear(1, width, true, he, spec)).add(new ReLU());
        for (int i = 0; i < depth; i++) {
            Module layer = new Sequential(new Linear(width, width, true, he, spec), new ReLU());
            net.add(residual ? new Residual(layer) : layer);
        }
        net.add(new Linear(width, 1, true, he, spec));
        return net;
    }
}
