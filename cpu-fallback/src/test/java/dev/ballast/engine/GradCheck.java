package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ballast.engine.autograd.GradMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Compares autograd gradients with central finite differences. The function under test is a {@link Supplier}
 * that reads the tensors in {@code wrt} (F64 leaves, contiguous); the checker reduces its output to a scalar
 * with fixed random weights {@code L = sum(out * w)} (so every output element and every Jacobian row counts),
 * backpropagates once, then perturbs each checked element by +-eps in place and re-evaluates L under noGrad.
 * A gradient passes when {@code |analytic - numeric| <= rtol * max(|analytic|, |numeric|) + atol}. The function
 * must be deterministic (checked). Use {@link #of} to configure, {@link #run()} to assert.
 */
public final class GradCheck {
    private final String name;
    private final Supplier<Tensor> f;
    private final List<Tensor> wrt;
    private double eps = 1e-6;
    private double rtol = 1e-6;
    private double atol = 1e-9;
    private int maxPerTensor = 48;
    private long seed = 12345;

    private GradCheck(String name, Supplier<Tensor> f, List<Tensor> wrt) {
        this.name = name;
        this.f = f;
        this.wrt = wrt;
    }

    public static GradCheck of(String name, Supplier<Tensor> f, Tensor... wrt) { return new GradCheck(name, f, List.of(wrt)); }

    public static GradCheck of(String name, Supplier<Tensor> f, List<Tensor> wrt) { return new GradCheck(name, f, List.copyOf(wrt)); }

    /** Shorthand: check with the defaults. */
    public static void check(String name, Supplier<Tensor> f, Tensor... wrt) { of(name, f, wrt).run(); }

    public GradCheck eps(double e) { eps = e; return this; }

    public GradCheck rtol(double r) { rtol = r; return this; }

    public GradCheck atol(double a) { atol = a; return this; }

    /** Elements checked per tensor (a seeded random sample when larger). */
    public GradCheck maxPerTensor(int n) { maxPerTensor = n; return this; }

    public GradCheck seed(long s) { seed = s; return this; }

    // ------------------------------------------------------------------ input helpers

    public static Device cpu() { return Device.cpu(); }

    /** An F64 leaf requiring grad with values uniform in [lo, hi). */
    public static Tensor uniform(Random rng, double lo, double hi, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rng.nextDouble();
        return Tensor.fromArray(cpu(), DType.F64, v, shape).requiresGrad(true);
    }

    /** An F64 leaf requiring grad with values of magnitude in [0.2, 1.5) and random sign (away from kinks at 0). */
    public static Tensor awayFromZero(Random rng, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (rng.nextBoolean() ? 1 : -1) * (0.2 + 1.3 * rng.nextDouble());
        return Tensor.fromArray(cpu(), DType.F64, v, shape).requiresGrad(true);
    }

    /** An F64 leaf requiring grad with standard normal values. */
    public static Tensor normal(Random rng, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
        return Tensor.fromArray(cpu(), DType.F64, v, shape).requiresGrad(true);
    }

    // ------------------------------------------------------------------ the check

    /** Runs the comparison and fails with every mismatching element listed (up to 10). */
    public void run() {
        for (Tensor t : wrt) {
            if (t.dtype() != DType.F64) fail(name + ": gradcheck inputs must be F64, got " + t.dtype());
            if (!t.isLeaf() || !t.isContiguous()) fail(name + ": gradcheck inputs must be contiguous leaves");
            t.requiresGrad(true);
            t.zeroGrad();
        }
        Random rng = new Random(seed);
        Tensor w;
        double base;
        try (Scope s = Scope.open()) {
            Tensor out = f.get();
            if (!out.requiresGrad()) fail(name + ": output does not require grad");
            double[] wv = new double[Math.toIntExact(out.numel())];
            for (int i = 0; i < wv.length; i++) wv[i] = rng.nextDouble() * 2 - 1;
            w = Scope.detachFromScopes(Tensor.fromArray(out.device(), DType.F64, wv, out.shape()));
            Tensor loss = out.to(DType.F64).mul(w).sum();
            base = loss.item();
            loss.backward();
        }
        List<double[]> analytic = new ArrayList<>();
        for (Tensor t : wrt) {
            analytic.add(t.grad() == null ? new double[Math.toIntExact(t.numel())] : t.grad().toDoubleArray());
            t.zeroGrad();
        }
        double again = evaluate(w);
        if (Double.doubleToLongBits(again) != Double.doubleToLongBits(base))
            fail(name + ": function is not deterministic (" + base + " then " + again + "); gradcheck needs a pure function");
        List<String> failures = new ArrayList<>();
        int checked = 0;
        double worst = 0;
        for (int ti = 0; ti < wrt.size(); ti++) {
            Tensor t = wrt.get(ti);
            double[] values = t.toDoubleArray();
            int n = values.length;
            int[] idx = pick(n, rng);
            for (int i : idx) {
                double orig = values[i];
                values[i] = orig + eps;
                set(t, values);
                double plus = evaluate(w);
                values[i] = orig - eps;
                set(t, values);
                double minus = evaluate(w);
                values[i] = orig;
                set(t, values);
                double numeric = (plus - minus) / (2 * eps);
                double a = analytic.get(ti)[i];
                double err = Math.abs(a - numeric);
                double allowed = rtol * Math.max(Math.abs(a), Math.abs(numeric)) + atol;
                worst = Math.max(worst, err / allowed);
                checked++;
                if (!(err <= allowed) && failures.size() < 10)
                    failures.add("input " + ti + " " + Arrays.toString(t.shape()) + " element " + i + ": analytic " + a
                            + ", numeric " + numeric + " (|diff| " + err + " > " + allowed + ")");
            }
        }
        w.close();
        if (!failures.isEmpty())
            fail(name + ": gradients differ from finite differences (eps " + eps + ", rtol " + rtol + ", atol " + atol + "):\n  "
                    + String.join("\n  ", failures));
        if (checked == 0) fail(name + ": no element was checked");
    }

    private int[] pick(int n, Random rng) {
        if (n <= maxPerTensor) return java.util.stream.IntStream.range(0, n).toArray();
        int[] all = java.util.stream.IntStream.range(0, n).toArray();
        for (int i = 0; i < maxPerTensor; i++) {
            int j = i + rng.nextInt(n - i);
            int tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
        }
        return Arrays.copyOf(all, maxPerTensor);
    }

    private static void set(Tensor t, double[] values) {
        // perturbing a leaf that requires grad happens outside autograd (torch.autograd.gradcheck does it under no_grad)
        try (GradMode.Guard g = GradMode.noGrad(); Tensor v = Tensor.fromArray(t.device(), DType.F64, values, t.shape())) {
            t.copyFrom(v);
        }
    }

    private double evaluate(Tensor w) {
        try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
            return f.get().to(DType.F64).mul(w).sum().item();
        }
    }
}
