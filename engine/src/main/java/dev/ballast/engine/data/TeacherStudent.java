package dev.ballast.engine.data;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;

/**
 * Teacher-student regression: a fixed random one-hidden-layer tanh network (the teacher) labels Gaussian inputs,
 * and a student is trained to match it. The teacher's weights are drawn from N(0, 1/fanIn), biases from
 * N(0, 0.01); targets get Gaussian noise of standard deviation {@code noise}. A student at least as wide as the
 * teacher can reach the noise floor, which makes convergence easy to check.
 */
public final class TeacherStudent {
    private TeacherStudent() {}

    /** The teacher network: {@code y = tanh(x W1 + b1) W2 + b2}, weights row-major ({@code W1 [in, hidden]}). */
    public record Teacher(int in, int hidden, int out, double[] w1, double[] b1, double[] w2, double[] b2) {
        /** The teacher's output for one input of length {@code in}. */
        public double[] apply(double[] x) {
            if (x.length != in) throw new IllegalArgumentException("teacher takes " + in + " inputs, got " + x.length);
            double[] h = new double[hidden];
            for (int j = 0; j < hidden; j++) {
                double s = b1[j];
                for (int i = 0; i < in; i++) s += x[i] * w1[i * hidden + j];
                h[j] = Math.tanh(s);
            }
            double[] y = new double[out];
            for (int k = 0; k < out; k++) {
                double s = b2[k];
                for (int j = 0; j < hidden; j++) s += h[j] * w2[j * out + k];
                y[k] = s;
            }
            return y;
        }
    }

    /** A teacher drawn from {@code seed}. */
    public static Teacher teacher(int in, int hidden, int out, long seed) {
        if (in <= 0 || hidden <= 0 || out <= 0)
            throw new IllegalArgumentException("teacher sizes must be > 0, got in " + in + ", hidden " + hidden + ", out " + out);
        Rng rng = new Rng(seed);
        double[] w1 = new double[in * hidden], b1 = new double[hidden], w2 = new double[hidden * out], b2 = new double[out];
        for (int i = 0; i < w1.length; i++) w1[i] = rng.normal() / Math.sqrt(in);
        for (int i = 0; i < b1.length; i++) b1[i] = 0.1 * rng.normal();
        for (int i = 0; i < w2.length; i++) w2[i] = rng.normal() / Math.sqrt(hidden);
        for (int i = 0; i < b2.length; i++) b2[i] = 0.1 * rng.normal();
        return new Teacher(in, hidden, out, w1, b1, w2, b2);
    }

    /** {@code n} examples labelled by {@code teacher}: inputs {@code [n, in]}, targets {@code [n, out]}, F32. */
    public static Dataset generate(Device device, Teacher teacher, int n, double noise, long seed) {
        if (n <= 0) throw new IllegalArgumentException("teacher-student: n must be > 0, got " + n);
        if (!(noise >= 0) || Double.isInfinite(noise)) throw new IllegalArgumentException("teacher-student: noise must be finite and >= 0, got " + noise);
        Rng rng = new Rng(seed);
        double[] x = new double[n * teacher.in()];
        double[] y = new double[n * teacher.out()];
        double[] row = new double[teacher.in()];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < row.length; j++) row[j] = x[i * row.length + j] = rng.normal();
            double[] t = teacher.apply(row);
            for (int k = 0; k < t.length; k++) y[i * t.length + k] = t[k] + noise * rng.normal();
        }
        return new Dataset(Tensor.fromArray(device, DType.F32, x, n, teacher.in()), Tensor.fromArray(device, DType.F32, y, n, teacher.out()));
    }

    /** A teacher from {@code seed} and {@code n} examples from {@code seed + 1}. */
    public static Dataset generate(Device device, int n, int in, int hidden, int out, double noise, long seed) {
        return generate(device, teacher(in, hidden, out, seed), n, noise, seed + 1);
    }
}
