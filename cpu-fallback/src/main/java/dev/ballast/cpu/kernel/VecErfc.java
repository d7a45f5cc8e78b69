package dev.ballast.cpu.kernel;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Erf#erfc} over double arrays with the Vector API: the same FDLIBM rational approximations and the same
 * {@code exp} split, each region evaluated for whole vectors and its lanes selected with masks, so results agree
 * with the scalar port to an ulp or two (the vector {@code exp} is within 1 ulp, as {@link Math#exp}). The work is
 * cut into small passes over the array (one per region), each a short loop: C2 keeps vectors in registers only
 * inside one compilation unit, and a single large loop body stops being inlined and runs boxed.
 */
final class VecErfc {
    private VecErfc() {}

    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    static final int L = D.length();

    private static final double ERX = 8.45062911510467529297e-01;

    /**
     * {@code out[i] = erfc(u[i])} for {@code i < n}; {@code n} must be a multiple of {@link #L} (pad with zeros).
     * {@code u} is not changed.
     */
    static void erfc(double[] u, double[] out, int n) {
        boolean tail = small(u, out, n);
        if (tail) tail(u, out, n);
    }

    /** Regions |u| < 1.25 (and the constant ones); returns whether some lane needs the tail (1.25 <= |u| < 28, u > -6). */
    private static boolean small(double[] u, double[] out, int n) {
        boolean tail = false;
        for (int i = 0; i < n; i += L) {
            DoubleVector x = DoubleVector.fromArray(D, u, i);
            DoubleVector ax = x.abs();
            // |x| < 0.84375: erfc = 1 - (x + x*y) for x < 1/4, else 0.5 - ((x - 0.5) + x*y), y = (erf(x) - x)/x
            DoubleVector z = x.mul(x);
            DoubleVector r = z.fma(-2.37630166566501626084e-05, -5.77027029648944159157e-03).fma(z, K0)
                    .fma(z, K1).fma(z, K2);
            DoubleVector s = z.fma(-3.96022827877536812320e-06, 1.32494738004321644526e-04).fma(z, K3)
                    .fma(z, K4).fma(z, K5).fma(z, K6);
            DoubleVector xy = x.mul(r.div(s));
            DoubleVector lo = DoubleVector.broadcast(D, 1.0).sub(x.add(xy));
            DoubleVector hi = DoubleVector.broadcast(D, 0.5).sub(x.sub(0.5).add(xy));
            DoubleVector res = lo.blend(hi, x.compare(VectorOperators.GE, 0.25));
            // 0.84375 <= |x| < 1.25: erf(|x|) = ERX + p(|x| - 1)
            DoubleVector sm = ax.sub(1.0);
            DoubleVector p = sm.fma(-2.16637559486879084300e-03, 3.54783043256182359371e-02).fma(sm, K7)
                    .fma(sm, K8).fma(sm, K9).fma(sm, K10)
                    .fma(sm, K11);
            DoubleVector q = sm.fma(1.19844998467991074170e-02, 1.36370839120290507362e-02).fma(sm, K12)
                    .fma(sm, K13).fma(sm, K14).fma(sm, K15)
                    .fma(sm, K6);
            DoubleVector pq = p.div(q);
            DoubleVector near = DoubleVector.broadcast(D, 1 - ERX).sub(pq).blend(pq.add(ERX).add(1.0), x.compare(VectorOperators.LT, 0));
            res = res.blend(near, ax.compare(VectorOperators.GE, 0.84375));
            // 28 <= |x|, and x < -6: constant limits (the tail pass leaves these lanes alone)
            VectorMask<Double> big = ax.compare(VectorOperators.GE, 1.25);
            VectorMask<Double> two = x.compare(VectorOperators.LT, -6.0);
            VectorMask<Double> zero = x.compare(VectorOperators.GE, 28.0);
            res = res.blend(2.0, big.and(two)).blend(0.0, zero);
            res.intoArray(out, i);
            tail |= big.andNot(two).andNot(zero).anyTrue();
        }
        return tail;
    }

    /** Region 1.25 <= |u| < 28 with u >= -6: erfc(|u|) = exp(-z^2 - 0.5625) exp((z - |u|)(z + |u|) + R/S) / |u|. */
    private static void tail(double[] u, double[] out, int n) {
        tail(u, out, n, false, RA, SA);
        tail(u, out, n, true, RB, SB);
    }

    // R and S of the tail, highest power first: RA/SA on [1.25, 1/0.35), RB/SB on [1/0.35, 28) (FDLIBM's coefficients)
    private static final double[] RA = {-9.81432934416914548592e+00, -8.12874355063065934246e+01, -1.84605092906711035994e+02,
        -1.62396669462573470355e+02, -6.23753324503260060396e+01, -1.05586262253232909814e+01, -6.93858572707181764372e-01,
        -9.86494403484714822705e-03};
    private static final double[] SA = {-6.04244152148580987438e-02, 6.57024977031928170135e+00, 1.08635005541779435134e+02,
        4.29008140027567833386e+02, 6.45387271733267880336e+02, 4.34565877475229228821e+02, 1.37657754143519042600e+02,
        1.96512716674392571292e+01, 1.0};
    private static final double[] RB = {-4.83519191608651397019e+02, -1.02509513161107724954e+03, -6.37566443368389627722e+02,
        -1.60636384855821916062e+02, -1.77579549177547519889e+01, -7.99283237680523006574e-01, -9.86494292470009928597e-03};
    private static final double[] SB = {-2.24409524465858183362e+01, 4.74528541206955367215e+02, 2.55305040643316442583e+03,
        3.19985821950859553908e+03, 1.53672958608443695994e+03, 3.25792512996573918826e+02, 3.03380607434824582924e+01, 1.0};

    /** One tail sub-range (the lanes with |u| below or, when {@code upper}, at or above 1/0.35), one vector loop. */
    private static void tail(double[] u, double[] out, int n, boolean upper, double[] rc, double[] sc) {
        for (int i = 0; i < n; i += L) {
            DoubleVector x = DoubleVector.fromArray(D, u, i);
            DoubleVector ax = x.abs();
            VectorMask<Double> lanes = ax.compare(VectorOperators.GE, 1.25).andNot(x.compare(VectorOperators.LT, -6.0))
                    .andNot(x.compare(VectorOperators.GE, 28.0));
            VectorMask<Double> b = ax.compare(VectorOperators.GE, 1 / 0.35);
            lanes = upper ? lanes.and(b) : lanes.andNot(b);
            if (!lanes.anyTrue()) continue;
            DoubleVector s = DoubleVector.broadcast(D, 1.0).div(ax.mul(ax));
            DoubleVector r = DoubleVector.broadcast(D, rc[0]);
            for (int c = 1; c < rc.length; c++) r = r.fma(s, DoubleVector.broadcast(D, rc[c]));
            DoubleVector t = DoubleVector.broadcast(D, sc[0]);
            for (int c = 1; c < sc.length; c++) t = t.fma(s, DoubleVector.broadcast(D, sc[c]));
            DoubleVector z = ((LongVector) ax.reinterpretAsLongs()).and(0xFFFF_FFFF_0000_0000L).reinterpretAsDoubles();
            DoubleVector e1 = z.mul(z).neg().sub(0.5625).lanewise(VectorOperators.EXP);
            DoubleVector e2 = z.sub(ax).mul(z.add(ax)).add(r.div(t)).lanewise(VectorOperators.EXP);
            DoubleVector e = e1.mul(e2).div(ax);
            DoubleVector res = e.blend(DoubleVector.broadcast(D, 2.0).sub(e), x.compare(VectorOperators.LT, 0));
            DoubleVector.fromArray(D, out, i).blend(res, lanes).intoArray(out, i);
        }
    }

    // Constants as vectors made once (K0, K1, ... in order of first use): a helper returning a broadcast vector was sometimes left out of line by C2 in a
    // large compilation (every call then allocated a boxed vector and ran the lane-by-lane fallback).
    private static final DoubleVector K0 = DoubleVector.broadcast(D, -2.84817495755985104766e-02);
    private static final DoubleVector K1 = DoubleVector.broadcast(D, -3.25042107247001499370e-01);
    private static final DoubleVector K2 = DoubleVector.broadcast(D, 1.28379167095512558561e-01);
    private static final DoubleVector K3 = DoubleVector.broadcast(D, 5.08130628187576562776e-03);
    private static final DoubleVector K4 = DoubleVector.broadcast(D, 6.50222499887672944485e-02);
    private static final DoubleVector K5 = DoubleVector.broadcast(D, 3.97917223959155352819e-01);
    private static final DoubleVector K6 = DoubleVector.broadcast(D, 1.0);
    private static final DoubleVector K7 = DoubleVector.broadcast(D, -1.10894694282396677476e-01);
    private static final DoubleVector K8 = DoubleVector.broadcast(D, 3.18346619901161753674e-01);
    private static final DoubleVector K9 = DoubleVector.broadcast(D, -3.72207876035701323847e-01);
    private static final DoubleVector K10 = DoubleVector.broadcast(D, 4.14856118683748331666e-01);
    private static final DoubleVector K11 = DoubleVector.broadcast(D, -2.36211856075265944077e-03);
    private static final DoubleVector K12 = DoubleVector.broadcast(D, 1.26171219808761642112e-01);
    private static final DoubleVector K13 = DoubleVector.broadcast(D, 7.18286544141962662868e-02);
    private static final DoubleVector K14 = DoubleVector.broadcast(D, 5.40397917702171048937e-01);
    private static final DoubleVector K15 = DoubleVector.broadcast(D, 1.06420880400844228286e-01);
}
