package dev.ballast.engine.init;

import dev.ballast.engine.DType;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Locale;

/**
 * Parameter initializers with torch.nn.init's semantics: each overwrites its tensor in place (outside autograd)
 * and returns it. Random values come from the given {@link Generator}'s Philox stream, drawn in F32 and cast to
 * the tensor's dtype, so a seed gives the same values on every backend and in every dtype (up to rounding).
 * Fans are computed as PyTorch's {@code _calculate_fan_in_and_fan_out}: for shape {@code [out, in, k...]},
 * fan_in = in * prod(k), fan_out = out * prod(k).
 */
public final class Init {
    private Init() {}

    /** Which fan scales the variance in the Kaiming initializers. */
    public enum FanMode { FAN_IN, FAN_OUT }

    /** PyTorch's default negative slope for leaky_relu when none is given. */
    public static final double DEFAULT_LEAKY_SLOPE = 0.01;

    /** {@link #calculateGain(String, double)} with the default parameter (0.01 for leaky_relu). */
    public static double calculateGain(String nonlinearity) { return calculateGain(nonlinearity, DEFAULT_LEAKY_SLOPE); }

    /**
     * The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain: 1 for linear, the conv
     * variants and sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu
     * ({@code param} is the slope); 3/4 for selu.
     */
    public static double calculateGain(String nonlinearity, double param) {
        String n = nonlinearity.toLowerCase(Locale.ROOT);
        return switch (n) {
            case "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid" -> 1.0;
            case "tanh" -> 5.0 / 3;
            case "relu" -> Math.sqrt(2.0);
            case "leaky_relu" -> Math.sqrt(2.0 / (1 + param * param));
            case "selu" -> 3.0 / 4;
            default -> throw new IllegalArgumentException("unsupported nonlinearity '" + nonlinearity + "'; allowed: linear, "
                    + "conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu");
        };
    }

    /** {fan_in, fan_out} of a weight shape; needs at least 2 dims. */
    public static long[] fans(long[] shape) {
        if (shape.length < 2)
            throw new IllegalArgumentException("fan in and fan out can not be computed for a tensor with fewer than 2 dimensions"
                    + " (shape " + java.util.Arrays.toString(shape) + ")");
        long receptive = 1;
        for (int i = 2; i < shape.length; i++) receptive = Math.multiplyExact(receptive, shape[i]);
        return new long[]{shape[1] * receptive, shape[0] * receptive};
    }

    public static long fanIn(long[] shape) { return fans(shape)[0]; }

    public static long fanOut(long[] shape) { return fans(shape)[1]; }

    // ------------------------------------------------------------------ basic fills

    /** Sets every element to {@code value}. */
    public static Tensor constant(Tensor t, double value) {
        try (GradMode.Guard g = GradMode.noGrad()) { // init writes parameters in place, outside autograd (torch.nn.init too)
            t.fill(value);
        }
        return t;
    }

    public static Tensor zeros(Tensor t) { return constant(t, 0); }

    public static Tensor ones(Tensor t) { return constant(t, 1); }

    /** Uniform values on [low, high). */
    public static Tensor uniform(Tensor t, double low, double high, Generator gen) {
        if (!(low <= high)) throw new IllegalArgumentException("uniform: low " + low + " must not exceed high " + high);
        try (GradMode.Guard g = GradMode.noGrad(); Tensor u = Tensor.uniform(gen, t.device(), low, high, t.shape())) {
            t.copyFrom(u);
        }
        return t;
    }

    /** Normal values with the given mean and standard deviation. */
    public static Tensor normal(Tensor t, double mean, double std, Generator gen) {
        if (!(std >= 0)) throw new IllegalArgumentException("normal: std must be >= 0, got " + std);
        try (GradMode.Guard g = GradMode.noGrad(); Tensor z = Tensor.randn(gen, t.device(), t.shape());
             Tensor s = z.mul(std); Tensor v = s.add(mean)) {
            t.copyFrom(v);
        }
        return t;
    }

    // ------------------------------------------------------------------ Xavier / Glorot

    /** U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)). */
    public static Tensor xavierUniform(Tensor t, double gain, Generator gen) {
        long[] f = fans(t.shape());
        double std = gain * Math.sqrt(2.0 / (f[0] + f[1]));
        double a = Math.sqrt(3.0) * std;
        return uniform(t, -a, a, gen);
    }

    /** N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)). */
    public static Tensor xavierNormal(Tensor t, double gain, Generator gen) {
        long[] f = fans(t.shape());
        return normal(t, 0, gain * Math.sqrt(2.0 / (f[0] + f[1])), gen);
    }

    // ------------------------------------------------------------------ Kaiming / He

    /** The standard deviation Kaiming init uses: gain(nonlinearity, a) / sqrt(fan). */
    public static double kaimingStd(long[] shape, double a, FanMode mode, String nonlinearity) {
        long[] f = fans(shape);
        long fan = mode == FanMode.FAN_IN ? f[0] : f[1];
        if (fan == 0) throw new IllegalArgumentException("kaiming init: " + mode + " is 0 for shape " + java.util.Arrays.toString(shape));
        return calculateGain(nonlinearity, a) / Math.sqrt(fan);
    }

    /** U(-b, b) with b = sqrt(3) * gain / sqrt(fan); PyTorch's kaiming_uniform_. */
    public static Tensor kaimingUniform(Tensor t, double a, FanMode mode, String nonlinearity, Generator gen) {
        if (t.numel() == 0) return t;
        double bound = Math.sqrt(3.0) * kaimingStd(t.shape(), a, mode, nonlinearity);
        return uniform(t, -bound, bound, gen);
    }

    /** N(0, std^2) with std = gain / sqrt(fan); PyTorch's kaiming_normal_. */
    public static Tensor kaimingNormal(Tensor t, double a, FanMode mode, String nonlinearity, Generator gen) {
        if (t.numel() == 0) return t;
        return normal(t, 0, kaimingStd(t.shape(), a, mode, nonlinearity), gen);
    }

    // ------------------------------------------------------------------ orthogonal

    /**
     * A (semi-)orthogonal matrix times {@code gain}, as torch.nn.init.orthogonal_: a normal matrix of shape
     * [rows, numel / rows] is QR-factorized (Householder, in double on the host), Q's columns are sign-corrected
     * by diag(R), and the result is reshaped to the tensor's shape. Needs at least 2 dims.
     */
    public static Tensor orthogonal(Tensor t, double gain, Generator gen) {
        if (t.rank() < 2) throw new IllegalArgumentException("orthogonal: only tensors with 2 or more dimensions are supported, got shape "
                + java.util.Arrays.toString(t.shape()));
        if (t.numel() == 0) return t;
        int rows = Math.toIntExact(t.size(0));
        int cols = Math.toIntExact(t.numel() / rows);
        double[] a;
        try (Tensor z = Tensor.randn(gen, t.device(), rows, cols)) {
            a = z.toDoubleArray();
        }
        boolean transpose = rows < cols;
        int m = transpose ? cols : rows, n = transpose ? rows : cols; // m >= n
        double[][] mat = new double[m][n];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                if (transpose) mat[j][i] = a[i * cols + j];
                else mat[i][j] = a[i * cols + j];
            }
        double[][] q = Householder.thinQ(mat, m, n);
        double[] out = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) out[i * cols + j] = gain * (transpose ? q[j][i] : q[i][j]);
        try (GradMode.Guard g = GradMode.noGrad(); Tensor v = Tensor.fromArray(t.device(), DType.F64, out, t.shape())) {
            t.copyFrom(v);
        }
        return t;
    }

    /** Householder QR of an m x n matrix (m >= n), returning the thin Q with columns multiplied by sign(diag(R)). */
    static final class Householder {
        private Householder() {}

        static double[][] thinQ(double[][] a, int m, int n) {
            double[][] r = new double[m][];
            for (int i = 0; i < m; i++) r[i] = a[i].clone();
            double[][] vs = new double[n][];
            for (int k = 0; k < n; k++) {
                double norm = 0;
                for (int i = k; i < m; i++) norm += r[i][k] * r[i][k];
                norm = Math.sqrt(norm);
                double[] v = new double[m];
                if (norm == 0) { vs[k] = v; continue; }
                double alpha = r[k][k] > 0 ? -norm : norm; // reflect away from the sign to avoid cancellation
                for (int i = k; i < m; i++) v[i] = r[i][k];
                v[k] -= alpha;
                double vn = 0;
                for (int i = k; i < m; i++) vn += v[i] * v[i];
                if (vn == 0) { vs[k] = new double[m]; continue; }
                vs[k] = v;
                for (int j = k; j < n; j++) {
                    double dot = 0;
                    for (int i = k; i < m; i++) dot += v[i] * r[i][j];
                    double f = 2 * dot / vn;
                    for (int i = k; i < m; i++) r[i][j] -= f * v[i];
                }
            }
            // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity
            double[][] q = new double[m][n];
            for (int j = 0; j < n; j++) q[j][j] = 1;
            for (int k = n - 1; k >= 0; k--) {
                double[] v = vs[k];
                double vn = 0;
                for (int i = k; i < m; i++) vn += v[i] * v[i];
                if (vn == 0) continue;
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int i = k; i < m; i++) dot += v[i] * q[i][j];
                    double f = 2 * dot / vn;
                    for (int i = k; i < m; i++) q[i][j] -= f * v[i];
                }
            }
            for (int j = 0; j < n; j++) {
                if (r[j][j] < 0) for (int i = 0; i < m; i++) q[i][j] = -q[i][j];
            }
            return q;
        }
    }
}
