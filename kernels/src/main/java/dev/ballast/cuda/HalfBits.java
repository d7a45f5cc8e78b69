package dev.ballast.cuda;

/** Float to bfloat16 bits with round-to-nearest-even, as {@code __float2bfloat16_rn} does. */
final class HalfBits {
    private HalfBits() {}

    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040); // keep sign, force a quiet NaN
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }
}
