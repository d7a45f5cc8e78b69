package dev.ballast.cpu.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * {@link VecMath}: the vector forms equal the scalar twins bit for bit (after enough calls for C2 to compile the vector
 * loop; the scalar twin is what the Vector API's interpreted fallback computes lane by lane), and both are within a
 * few ulp of float64 on random inputs and a dense grid.
 */
class VecMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static float[] inputs(long seed, double range) {
        Random r = new Random(seed);
        float[] x = new float[S.length() * 4096];
        for (int i = 0; i < x.length; i++) {
            double u = r.nextDouble();
            x[i] = (float) (i % 3 == 0 ? (u * 2 - 1) * range : i % 3 == 1 ? r.nextGaussian() * 2 : (u * 2 - 1) * 1e-3);
        }
        float[] special = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0.625f, -0.625f,
                0.62499994f, 88.3f, -87.3f, 100f, -100f, Float.MIN_VALUE, 1e-30f, 9f, -9f};
        System.arraycopy(special, 0, x, 0, special.length);
        return x;
    }

    private static void vectorEqualsScalar(String name, UnaryOperator<FloatVector> v, java.util.function.Function<Float, Float> s,
                                           long seed) {
        float[] x = inputs(seed, 120), out = new float[x.length];
        for (int round = 0; round < 30; round++) // enough calls for C2 to compile the loop with the vector calls inline
            for (int i = 0; i < x.length; i += S.length()) v.apply(FloatVector.fromArray(S, x, i)).intoArray(out, i);
        for (int i = 0; i < x.length; i++) {
            float e = s.apply(x[i]);
            assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(out[i]),
                    name + "(" + x[i] + "): scalar " + e + " vector " + out[i] + " (seed " + seed + ")");
        }
    }

    @Test void vectorLanesEqualTheScalarTwins() {
        long seed = System.nanoTime();
        System.out.println("VecMathTest seed " + seed);
        vectorEqualsScalar("exp", VecMath::exp, VecMath::exp, seed);
        vectorEqualsScalar("tanh", VecMath::tanh, VecMath::tanh, seed + 1);
        vectorEqualsScalar("sigmoid", VecMath::sigmoid, VecMath::sigmoid, seed + 2);
    }

    /** Max error in ulp of the float result against the float64 value. */
    private static double maxUlp(java.util.function.Function<Float, Float> f, DoubleUnaryOperator exact, double lo, double hi,
                                 long seed) {
        Random r = new Random(seed);
        double worst = 0;
        for (int i = 0; i < 400_000; i++) {
            float x = (float) (i < 200_000 ? lo + (hi - lo) * i / 200_000.0 : lo + (hi - lo) * r.nextDouble());
            double e = exact.applyAsDouble(x);
            float got = f.apply(x);
            double ulp = Math.ulp((float) e);
            if (ulp == 0 || e == 0) continue;
            worst = Math.max(worst, Math.abs(got - e) / ulp);
        }
        return worst;
    }

    @Test void withinAFewUlpOfFloat64() {
        long seed = System.nanoTime();
        System.out.println("VecMathTest accuracy seed " + seed);
        double exp = maxUlp(VecMath::exp, Math::exp, -87, 88, seed);
        double tanh = maxUlp(VecMath::tanh, Math::tanh, -12, 12, seed);
        double sigmoid = maxUlp(VecMath::sigmoid, x -> 1 / (1 + Math.exp(-x)), -20, 30, seed);
        System.out.printf("VecMath max error: exp %.2f ulp, tanh %.2f ulp, sigmoid %.2f ulp%n", exp, tanh, sigmoid);
        assertTrue(exp <= 1.5, "exp max error " + exp + " ulp");
        assertTrue(tanh <= 2, "tanh max error " + tanh + " ulp");
        assertTrue(sigmoid <= 3, "sigmoid max error " + sigmoid + " ulp");
        assertTrue(Float.isNaN(VecMath.exp(Float.NaN)) && Float.isNaN(VecMath.tanh(Float.NaN)) && Float.isNaN(VecMath.sigmoid(Float.NaN)));
        assertEquals(1f, VecMath.tanh(50f));
        assertEquals(-1f, VecMath.tanh(Float.NEGATIVE_INFINITY));
        assertEquals(1f, VecMath.sigmoid(200f));
        assertEquals(0f, VecMath.sigmoid(-200f), 1e-37f);
    }
}
