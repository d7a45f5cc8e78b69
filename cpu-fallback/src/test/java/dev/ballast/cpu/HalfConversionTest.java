package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * F32 to F16/BF16 and back through the CPU copy kernel (vector and scalar rows, contiguous and strided) against
 * the scalar reference conversions bit for bit, on random bit patterns (NaN, infinities, subnormals, ties included).
 */
class HalfConversionTest {
    static final Device CPU = Device.cpu();

    @ParameterizedTest @ValueSource(strings = {"F16", "BF16"})
    void conversionsMatchTheScalarReferenceBitForBit(String name) {
        DType t = DType.valueOf(name);
        long seed = System.nanoTime();
        System.err.println("HalfConversionTest seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 4099; // not a multiple of any vector length: the scalar tail runs too
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (i % 7) {
                case 0 -> Float.intBitsToFloat(rnd.nextInt());                           // any pattern, NaNs included
                case 1 -> Float.intBitsToFloat((rnd.nextInt() & 0xFFFF_0000) | 0x8000);   // a bf16 tie
                case 2 -> (float) rnd.nextGaussian() * 1e-6f;                              // f16 subnormal range
                case 3 -> i % 2 == 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                case 4 -> (float) rnd.nextGaussian() * 7e4f;                               // around f16's overflow
                default -> (float) rnd.nextGaussian();
            };
        }
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.fromArray(CPU, v, n);
            Tensor h = x.to(t);
            Tensor strided = Tensor.fromArray(CPU, java.util.Arrays.copyOf(v, n - 1), n / 2, 2).mT().to(t); // a strided source row
            Tensor back = h.to(DType.F32);
            float[] b = back.toFloatArray();
            float[] sb = strided.to(DType.F32).toFloatArray();
            for (int i = 0; i < n; i++) {
                short ref = t == DType.F16 ? Float.floatToFloat16(v[i]) : HalfFloats.floatToBf16(v[i]);
                float refBack = t == DType.F16 ? Float.float16ToFloat(ref) : HalfFloats.bf16ToFloat(ref);
                assertEquals(Float.floatToRawIntBits(refBack), Float.floatToRawIntBits(b[i]), "element " + i + " = " + v[i]);
            }
            for (int c = 0; c < 2; c++)
                for (int r = 0; r < n / 2; r++) {
                    float src = v[r * 2 + c];
                    short ref = t == DType.F16 ? Float.floatToFloat16(src) : HalfFloats.floatToBf16(src);
                    float refBack = t == DType.F16 ? Float.float16ToFloat(ref) : HalfFloats.bf16ToFloat(ref);
                    assertEquals(Float.floatToRawIntBits(refBack), Float.floatToRawIntBits(sb[c * (n / 2) + r]), "strided " + r + "," + c);
                }
        }
    }
}
