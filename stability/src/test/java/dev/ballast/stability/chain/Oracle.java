package dev.ballast.stability.chain;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The built-in links evaluated one after another in float64 on the host: what a chain must mean. */
final class Oracle {
    private Oracle() {}

    /** One transform with its float64 meaning and its link. */
    sealed interface Op {
        Link link();
    }

    record Scale(double factor) implements Op { public Link link() { return Link.scaleBy(factor); } }
    record Value(double value) implements Op { public Link link() { return Link.clipByValue(value); } }
    record Norm(double max, double p) implements Op { public Link link() { return Link.clipByGlobalNorm(max, p); } }
    record Agc(double clipping, double eps) implements Op { public Link link() { return Link.adaptiveClip(clipping, eps); } }
    record Skip() implements Op { public Link link() { return Link.skipIfNonFinite(); } }

    static List<Op> randomOps(Random rnd, int n) {
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ops.add(switch (rnd.nextInt(5)) {
                case 0 -> new Scale(new double[]{1 / 1024., 1 / 65536., 0.5}[rnd.nextInt(3)]);
                case 1 -> new Value(new double[]{0.05, 0.3, 1, 4}[rnd.nextInt(4)]);
                case 2 -> new Norm(new double[]{0.1, 0.5, 1, 5, 1e3}[rnd.nextInt(5)], new double[]{1, 2, 2, 3, Double.POSITIVE_INFINITY}[rnd.nextInt(5)]);
                case 3 -> new Agc(new double[]{0.01, 0.1, 0.5}[rnd.nextInt(3)], 1e-3);
                default -> new Skip();
            });
        }
        return ops;
    }

    /** The parameters after one SGD step at lr 1, or null when the chain skips the step. */
    static double[][] run(List<Op> ops, long[][] shapes, double[][] w, double[][] grads) {
        double[][] g = new double[grads.length][];
        for (int i = 0; i < g.length; i++) g[i] = grads[i].clone();
        for (Op op : ops) {
            switch (op) {
                case Scale s -> { for (double[] t : g) for (int k = 0; k < t.length; k++) t[k] *= s.factor(); }
                case Value v -> { for (double[] t : g) for (int k = 0; k < t.length; k++) if (!Double.isNaN(t[k])) t[k] = Math.max(-v.value(), Math.min(v.value(), t[k])); }
                case Norm n -> {
                    double c = Math.min(1, n.max() / (norm(g, n.p()) + 1e-6));
                    for (double[] t : g) for (int k = 0; k < t.length; k++) t[k] *= c;
                }
                case Agc a -> {
                    for (int i = 0; i < g.length; i++) {
                        int rows = shapes[i].length <= 1 ? 1 : (int) shapes[i][0], cols = g[i].length / rows;
                        for (int r = 0; r < rows; r++) {
                            double wn = 0, gn = 0;
                            for (int c = 0; c < cols; c++) {
                                wn += w[i][r * cols + c] * w[i][r * cols + c];
                                gn += g[i][r * cols + c] * g[i][r * cols + c];
                            }
                            double f = Math.min(1, Math.max(Math.sqrt(wn), a.eps()) * a.clipping() / Math.max(Math.sqrt(gn), 1e-6));
                            for (int c = 0; c < cols; c++) g[i][r * cols + c] *= f;
                        }
                    }
                }
                case Skip s -> {
                    for (double[] t : g) for (double x : t) if (!Double.isFinite(x)) return null;
                }
            }
        }
        double[][] out = new double[w.length][];
        for (int i = 0; i < w.length; i++) {
            out[i] = new double[w[i].length];
            for (int k = 0; k < out[i].length; k++) out[i][k] = w[i][k] - g[i][k];
        }
        return out;
    }

    static double norm(double[][] g, double p) {
        double acc = 0;
        for (double[] t : g) for (double x : t) {
            if (Double.isInfinite(p)) acc = Math.max(acc, Math.abs(x));
            else acc += Math.pow(Math.abs(x), p);
        }
        return Double.isInfinite(p) ? acc : Math.pow(acc, 1 / p);
    }
}
