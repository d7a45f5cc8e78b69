package dev.ballast.cpu.kernel;

/**
 * Double-precision erf and erfc, accurate to about one ulp: a port of the rational approximations of
 * FDLIBM's s_erf.c (Sun Microsystems, 1993, freely distributable), with its coefficients. GELU needs
 * erfc for large negative arguments, where {@code 1 + erf(x)} would cancel.
 */
public final class Erf {
    private Erf() {}

    private static final double ERX = 8.45062911510467529297e-01;
    private static final double EFX = 1.28379167095512586316e-01;
    private static final double
            PP0 = 1.28379167095512558561e-01, PP1 = -3.25042107247001499370e-01, PP2 = -2.84817495755985104766e-02,
            PP3 = -5.77027029648944159157e-03, PP4 = -2.37630166566501626084e-05,
            QQ1 = 3.97917223959155352819e-01, QQ2 = 6.50222499887672944485e-02, QQ3 = 5.08130628187576562776e-03,
            QQ4 = 1.32494738004321644526e-04, QQ5 = -3.96022827877536812320e-06;
    private static final double
            PA0 = -2.36211856075265944077e-03, PA1 = 4.14856118683748331666e-01, PA2 = -3.72207876035701323847e-01,
            PA3 = 3.18346619901161753674e-01, PA4 = -1.10894694282396677476e-01, PA5 = 3.54783043256182359371e-02,
            PA6 = -2.16637559486879084300e-03,
            QA1 = 1.06420880400844228286e-01, QA2 = 5.40397917702171048937e-01, QA3 = 7.18286544141962662868e-02,
            QA4 = 1.26171219808761642112e-01, QA5 = 1.36370839120290507362e-02, QA6 = 1.19844998467991074170e-02;
    private static final double
            RA0 = -9.86494403484714822705e-03, RA1 = -6.93858572707181764372e-01, RA2 = -1.05586262253232909814e+01,
            RA3 = -6.23753324503260060396e+01, RA4 = -1.62396669462573470355e+02, RA5 = -1.84605092906711035994e+02,
            RA6 = -8.12874355063065934246e+01, RA7 = -9.81432934416914548592e+00,
            SA1 = 1.96512716674392571292e+01, SA2 = 1.37657754143519042600e+02, SA3 = 4.34565877475229228821e+02,
            SA4 = 6.45387271733267880336e+02, SA5 = 4.29008140027567833386e+02, SA6 = 1.08635005541779435134e+02,
            SA7 = 6.57024977031928170135e+00, SA8 = -6.04244152148580987438e-02;
    private static final double
            RB0 = -9.86494292470009928597e-03, RB1 = -7.99283237680523006574e-01, RB2 = -1.77579549177547519889e+01,
            RB3 = -1.60636384855821916062e+02, RB4 = -6.37566443368389627722e+02, RB5 = -1.02509513161107724954e+03,
            RB6 = -4.83519191608651397019e+02,
            SB1 = 3.03380607434824582924e+01, SB2 = 3.25792512996573918826e+02, SB3 = 1.53672958608443695994e+03,
            SB4 = 3.19985821950859553908e+03, SB5 = 2.55305040643316442583e+03, SB6 = 4.74528541206955367215e+02,
            SB7 = -2.24409524465858183362e+01;

    /** erf(x). */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax < 0.84375) {
            if (ax < 0x1p-28) return x + EFX * x;
            double z = x * x;
            return x + x * smallRatio(z);
        }
        if (ax < 1.25) {
            double p = nearOneRatio(ax - 1);
            return x >= 0 ? ERX + p : -ERX - p;
        }
        if (ax >= 6) return x >= 0 ? 1.0 : -1.0;
        double r = tail(ax);
        return x >= 0 ? 1 - r : r - 1;
    }

    /** erfc(x) = 1 - erf(x), without cancellation for large x. */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax < 0.84375) {
            if (ax < 0x1p-56) return 1 - x;
            double z = x * x;
            double y = smallRatio(z);
            if (x < 0.25) return 1 - (x + x * y);
            return 0.5 - ((x - 0.5) + x * y);
        }
        if (ax < 1.25) {
            double p = nearOneRatio(ax - 1);
            return x >= 0 ? (1 - ERX) - p : 1 + (ERX + p);
        }
        if (ax < 28) {
            if (x < -6) return 2.0;
            double r = tail(ax);
            return x > 0 ? r : 2 - r;
        }
        return x > 0 ? 0.0 : 2.0;
    }

    /** (erf(x) - x) / x on [0, 0.84375) as a function of z = x^2. */
    private static double smallRatio(double z) {
        double r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
        double s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
        return r / s;
    }

    /** erf(1 + s) - ERX for s in [-0.15625, 0.25). */
    private static double nearOneRatio(double s) {
        double p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
        double q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
        return p / q;
    }

    /** erfc(ax) for ax in [1.25, 28). */
    private static double tail(double ax) {
        double s = 1 / (ax * ax);
        double r, t;
        if (ax < 1 / 0.35) {
            r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
            t = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
        } else {
            r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
            t = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
        }
        // exp(-x*x) split as exp(-z*z) * exp((z-x)(z+x)) with z = x with its low word cleared, so z*z is exact.
        double z = Double.longBitsToDouble(Double.doubleToRawLongBits(ax) & 0xFFFF_FFFF_0000_0000L);
        return Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r / t) / ax;
    }
}
