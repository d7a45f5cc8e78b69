package dev.ballast.cpu.kernel;

import dev.ballast.engine.DType;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The exact (erf) GELU and its gradient over strided operands. Contiguous F32 rows take {@link GeluF32}'s one-pass
 * loops; everything else (F64, strided rows) is vectorized through {@link VecErfc}: operands are
 * loaded a chunk at a time into double work arrays ({@link Buffers}), computed in double with vector loops and
 * rounded once on store, as the scalar ops are. {@code gelu(x) = 0.5 x erfc(-x/sqrt 2)};
 * {@code gelu'(x) = Phi(x) + x phi(x)} with {@code Phi(x) = 0.5 erfc(-x/sqrt 2)} and
 * {@code phi(x) = exp(-x^2/2)/sqrt(2 pi)}; at the infinities the limits (gelu(-inf) = -0; gelu'(+inf) = 1,
 * gelu'(-inf) = 0).
 */
public final class Gelu {
    private Gelu() {}

    private static final VectorSpecies<Double> D = VecErfc.D;
    private static final int L = VecErfc.L;
    private static final int CHUNK = 512;
    private static final double INV_SQRT2 = 0.70710678118654752440;
    private static final double INV_SQRT_2PI = 0.39894228040143267794;

    /** {@code out = gelu(x)}. */
    public static void forward(Parallel par, View x, View out) {
        Elementwise.checkShape("gelu", x, out);
        Rows.Plan p = Rows.plan(out.shape(), x.strides(), out.strides());
        long xs = p.inner(0), os = p.inner(1);
        if (x.dtype() == DType.F32 && out.dtype() == DType.F32 && xs == 1 && os == 1) {
            Rows.run(par, p, new long[] {x.offset(), out.offset()},
                    () -> {
                        GeluF32.Work w = new GeluF32.Work();
                        return (offs, len) -> GeluF32.forward(w, x.seg(), offs[0] * 4, out.seg(), offs[1] * 4, len);
                    });
            return;
        }
        Rows.run(par, p, new long[] {x.offset(), out.offset()}, () -> {
            double[] bx = new double[CHUNK], bu = new double[CHUNK], be = new double[CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c), padded = pad(n);
                    Buffers.loadD(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                    java.util.Arrays.fill(bx, n, padded, 0);
                    scaled(bx, -INV_SQRT2, bu, padded);
                    VecErfc.erfc(bu, be, padded);
                    values(bx, be, padded);
                    Buffers.storeD(out.dtype(), out.seg(), offs[1] + c * os, os, be, n);
                }
            };
        });
    }

    /** {@code out = g * gelu'(x)} (x, g and out of one shape). */
    public static void backward(Parallel par, View x, View g, View out) {
        Elementwise.checkShape("gelu backward", x, out);
        Elementwise.checkShape("gelu backward", g, out);
        Rows.Plan p = Rows.plan(out.shape(), x.strides(), g.strides(), out.strides());
        long xs = p.inner(0), gs = p.inner(1), os = p.inner(2);
        if (x.dtype() == DType.F32 && g.dtype() == DType.F32 && out.dtype() == DType.F32 && xs == 1 && gs == 1 && os == 1) {
            Rows.run(par, p, new long[] {x.offset(), g.offset(), out.offset()},
                    () -> {
                        GeluF32.Work w = new GeluF32.Work();
                        return (offs, len) -> GeluF32.backward(w, x.seg(), offs[0] * 4, g.seg(), offs[1] * 4, out.seg(), offs[2] * 4, len);
                    });
            return;
        }
        Rows.run(par, p, new long[] {x.offset(), g.offset(), out.offset()}, () -> {
            double[] bx = new double[CHUNK], bg = new double[CHUNK], bu = new double[CHUNK], be = new double[CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c), padded = pad(n);
                    Buffers.loadD(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                    Buffers.loadD(g.dtype(), g.seg(), offs[1] + c * gs, gs, bg, n);
                    java.util.Arrays.fill(bx, n, padded, 0);
                    java.util.Arrays.fill(bg, n, padded, 0);
                    scaled(bx, -INV_SQRT2, bu, padded);
                    VecErfc.erfc(bu, be, padded);
                    gradients(bx, bg, be, padded);
                    Buffers.storeD(out.dtype(), out.seg(), offs[2] + c * os, os, be, n);
                }
            };
        });
    }

    private static int pad(int n) { return (n + L - 1) / L * L; }

    /** {@code out[i] = s * x[i]}. */
    private static void scaled(double[] x, double s, double[] out, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, x, i).mul(s).intoArray(out, i);
    }

    /** {@code e[i] = 0.5 x[i] e[i]} where e holds erfc(-x/sqrt 2); -0 at x = -inf (the formula gives NaN there). */
    private static void values(double[] x, double[] e, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(D, x, i);
            xv.mul(0.5).mul(DoubleVector.fromArray(D, e, i)).blend(-0.0, xv.compare(VectorOperators.EQ, Double.NEGATIVE_INFINITY))
                    .intoArray(e, i);
        }
    }

    /** {@code e[i] = g[i] (0.5 e[i] + x[i] phi(x[i]))} where e holds erfc(-x/sqrt 2); the limits at the infinities. */
    private static void gradients(double[] x, double[] g, double[] e, int n) {
        for (int i = 0; i < n; i += L) {
            DoubleVector xv = DoubleVector.fromArray(D, x, i);
            DoubleVector phi = xv.mul(xv).mul(-0.5).lanewise(VectorOperators.EXP).mul(INV_SQRT_2PI);
            DoubleVector d = DoubleVector.fromArray(D, e, i).mul(0.5).add(xv.mul(phi))
                    .blend(1.0, xv.compare(VectorOperators.EQ, Double.POSITIVE_INFINITY))
                    .blend(0.0, xv.compare(VectorOperators.EQ, Double.NEGATIVE_INFINITY));
            DoubleVector.fromArray(D, g, i).mul(d).intoArray(e, i);
        }
    }
}
