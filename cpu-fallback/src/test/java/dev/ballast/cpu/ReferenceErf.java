package dev.ballast.cpu;

/**
 * An erfc written independently of the backend's (series and continued fraction), for test references:
 * a few ulps relative accuracy (checked against tabulated values in ErfTest).
 */
final class ReferenceErf {
    private ReferenceErf() {}

    /** erf(z) = 2/sqrt(pi) exp(-z^2) sum 2^n z^(2n+1) / (1*3*...*(2n+1)), all terms positive for z >= 0. */
    static double erfSeries(double z) {
        double term = z, sum = z;
        for (int n = 1; n < 500; n++) {
            term *= 2 * z * z / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-18) break;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-z * z) * sum;
    }

    static double erfc(double z) {
        if (Double.isNaN(z)) return z;
        if (z < 0) return 2 - erfc(-z);
        if (z < 0.5) return 1 - erfSeries(z);   // erfc >= 0.48 here: no cancellation to speak of
        // continued fraction erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated backwards
        double f = z;
        for (int k = 1000; k >= 1; k--) f = z + (k / 2.0) / f;
        return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
    }
}
