package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Initializers: PyTorch's gains and fans, the bounds and spreads they imply, orthogonality, seeding. */
class InitTest {
    /** Uniform values are drawn in F32: a bound may be exceeded by its rounding. */
    private static final double F32 = 1 + 1e-6;

    private static Tensor empty(long... shape) { return Tensor.empty(Device.cpu(), DType.F64, shape); }

    private static double[] stats(double[] v) {
        double m = 0, s = 0, max = 0;
        for (double x : v) m += x / v.length;
        for (double x : v) { s += (x - m) * (x - m) / v.length; max = Math.max(max, Math.abs(x)); }
        return new double[]{m, Math.sqrt(s), max};
    }

    @Test
    void gainsAsPyTorch() {
        assertEquals(1, Init.calculateGain("linear"));
        assertEquals(1, Init.calculateGain("conv2d"));
        assertEquals(1, Init.calculateGain("sigmoid"));
        assertEquals(5.0 / 3, Init.calculateGain("tanh"));
        assertEquals(Math.sqrt(2), Init.calculateGain("relu"));
        assertEquals(Math.sqrt(2 / (1 + 0.01 * 0.01)), Init.calculateGain("leaky_relu"));
        assertEquals(Math.sqrt(2 / (1 + 0.2 * 0.2)), Init.calculateGain("leaky_relu", 0.2));
        assertEquals(0.75, Init.calculateGain("selu"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Init.calculateGain("swish"));
        assertTrue(e.getMessage().contains("swish") && e.getMessage().contains("leaky_relu"), e.getMessage());
    }

    @Test
    void fansAsPyTorch() {
        assertArrayEquals(new long[]{3, 5}, Init.fans(new long[]{5, 3}));
        assertArrayEquals(new long[]{12, 20}, Init.fans(new long[]{5, 3, 2, 2}));
        assertThrows(IllegalArgumentException.class, () -> Init.fans(new long[]{7}));
    }

    @Test
    void uniformAndNormalSchemesHaveTheirSpread() {
        long[] shape = {200, 300};
        double xu = Math.sqrt(6.0 / 500);
        double[] s = stats(Init.xavierUniform(empty(shape), 1, new Generator(1)).toDoubleArray());
        assertTrue(s[2] <= xu * F32 && s[2] > 0.99 * xu, "xavier uniform bound " + s[2]);
        assertEquals(xu / Math.sqrt(3), s[1], 0.01 * xu);
        s = stats(Init.xavierNormal(empty(shape), 2, new Generator(2)).toDoubleArray());
        assertEquals(2 * Math.sqrt(2.0 / 500), s[1], 0.02 * s[1]);
        assertEquals(0, s[0], 0.01 * s[1]);
        s = stats(Init.kaimingNormal(empty(shape), 0, Init.FanMode.FAN_IN, "relu", new Generator(3)).toDoubleArray());
        assertEquals(Math.sqrt(2.0 / 300), s[1], 0.02 * s[1]);
        s = stats(Init.kaimingNormal(empty(shape), 0, Init.FanMode.FAN_OUT, "relu", new Generator(3)).toDoubleArray());
        assertEquals(Math.sqrt(2.0 / 200), s[1], 0.02 * s[1]);
        s = stats(Init.kaimingUniform(empty(shape), 0, Init.FanMode.FAN_IN, "relu", new Generator(4)).toDoubleArray());
        assertTrue(s[2] <= Math.sqrt(6.0 / 300) * F32 && s[2] > 0.99 * Math.sqrt(6.0 / 300), "kaiming uniform bound " + s[2]);
        s = stats(Init.normal(empty(shape), 1.5, 0.02, new Generator(5)).toDoubleArray());
        assertEquals(1.5, s[0], 0.001);
        assertEquals(0.02, s[1], 0.0005);
        assertArrayEquals(new double[]{3, 3}, Init.constant(empty(2), 3).toDoubleArray());
    }

    @Test
    void linearDefaultInitBoundsAreOneOverSqrtFanIn() {
        Linear lin = new Linear(64, 128, ParamSpec.seeded(6));
        double bound = 1 / Math.sqrt(64);
        double[] w = stats(lin.weight().toDoubleArray()), b = stats(lin.bias().toDoubleArray());
        assertTrue(w[2] <= bound * F32 && w[2] > 0.98 * bound, "weight bound " + w[2]);
        assertTrue(b[2] <= bound * F32 && b[2] > 0.8 * bound, "bias bound " + b[2]);
        Linear ortho = new Linear(8, 8, true, dev.ballast.engine.init.WeightInit.orthogonal(1), ParamSpec.seeded(6));
        assertArrayEquals(new double[8], ortho.bias().toDoubleArray());
    }

    @Test
    void orthogonalRowsOrColumnsAreOrthonormal() {
        for (long[] shape : new long[][]{{6, 4}, {4, 6}, {5, 5}, {3, 2, 2}}) {
            double gain = 1.7;
            double[] q = Init.orthogonal(empty(shape), gain, new Generator(7)).toDoubleArray();
            int rows = (int) shape[0], cols = q.length / rows;
            boolean byRows = rows <= cols; // the smaller side is orthonormal
            int k = byRows ? rows : cols, len = byRows ? cols : rows;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++) {
                    double dot = 0;
                    for (int i = 0; i < len; i++) {
                        double u = byRows ? q[a * cols + i] : q[i * cols + a], v = byRows ? q[b * cols + i] : q[i * cols + b];
                        dot += u * v;
                    }
                    assertEquals(a == b ? gain * gain : 0, dot, 1e-6, Arrays.toString(shape) + " (" + a + "," + b + ")");
                }
        }
        assertThrows(IllegalArgumentException.class, () -> Init.orthogonal(empty(4), 1, new Generator(1)));
    }

    @Test
    void sameSeedSameValuesInEveryDtype() {
        double[] a = Init.xavierUniform(empty(4, 5), 1, new Generator(9)).toDoubleArray();
        double[] b = Init.xavierUniform(empty(4, 5), 1, new Generator(9)).toDoubleArray();
        assertArrayEquals(a, b);
        double[] f = Init.xavierUniform(Tensor.empty(Device.cpu(), DType.F32, 4, 5), 1, new Generator(9)).toDoubleArray();
        for (int i = 0; i < a.length; i++) assertEquals(a[i], f[i], 1e-6);
        assertFalse(Arrays.equals(a, Init.xavierUniform(empty(4, 5), 1, new Generator(10)).toDoubleArray()));
        Linear l1 = new Linear(3, 3, ParamSpec.seeded(11)), l2 = new Linear(3, 3, ParamSpec.seeded(11));
        assertArrayEquals(l1.weight().toDoubleArray(), l2.weight().toDoubleArray());
    }
}
