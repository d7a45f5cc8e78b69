package dev.ballast.engine;

/**
 * Conversions between float/double and the two 16-bit storage formats, IEEE binary16 (F16) and
 * bfloat16 (BF16), as raw {@code short} bit patterns. Every conversion to a 16-bit format rounds once,
 * to nearest with ties to even, straight from the source value (a double is never rounded to float
 * first); values beyond the largest finite 16-bit value become infinity, subnormals are kept, the
 * sign of zero is kept, and NaN stays a (quiet) NaN with its sign.
 */
public final class HalfFloats {
    private HalfFloats() {}

    private static final int F16_EXP_BITS = 5, F16_MANT_BITS = 10;
    private static final int BF16_EXP_BITS = 8, BF16_MANT_BITS = 7;

    /** float to binary16, round to nearest even ({@link Float#floatToFloat16}). */
    public static short floatToF16(float f) { return Float.floatToFloat16(f); }

    /** binary16 to float, exact ({@link Float#float16ToFloat}). */
    public static float f16ToFloat(short h) { return Float.float16ToFloat(h); }

    /** double to binary16 with a single rounding to nearest even. */
    public static short doubleToF16(double d) { return (short) roundDouble(d, F16_EXP_BITS, F16_MANT_BITS); }

    /** float to bfloat16, round to nearest even; NaN becomes a quiet NaN with the same sign. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (short) ((bits >>> 16) | 0x0040); // NaN: force the quiet bit
        // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; a carry into the exponent is
        // correct, including the step from the largest finite value to infinity.
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** bfloat16 to float, exact. */
    public static float bf16ToFloat(short b) { return Float.intBitsToFloat((b & 0xFFFF) << 16); }

    /** double to bfloat16 with a single rounding to nearest even. */
    public static short doubleToBf16(double d) { return (short) roundDouble(d, BF16_EXP_BITS, BF16_MANT_BITS); }

    /** double to the binary format with {@code expBits} exponent and {@code mantBits} stored fraction bits. */
    private static int roundDouble(double d, int expBits, int mantBits) {
        long bits = Double.doubleToRawLongBits(d);
        int signOut = (int) (bits >>> 63) << (expBits + mantBits);
        long abs = bits & 0x7FFF_FFFF_FFFF_FFFFL;
        int expAll = (1 << expBits) - 1;
        if (abs >= 0x7FF0_0000_0000_0000L) {
            if (abs == 0x7FF0_0000_0000_0000L) return signOut | (expAll << mantBits);
            int payload = (int) ((abs & 0x000F_FFFF_FFFF_FFFFL) >>> (52 - mantBits));
            return signOut | (expAll << mantBits) | (1 << (mantBits - 1)) | payload;
        }
        if (abs == 0) return signOut;
        int bias = (1 << (expBits - 1)) - 1;
        int biasedExp = (int) (abs >>> 52);
        int e = biasedExp == 0 ? -1022 : biasedExp - 1023;               // unbiased exponent
        long mant = (abs & 0x000F_FFFF_FFFF_FFFFL) | (biasedExp == 0 ? 0 : 1L << 52); // value = mant * 2^(e-52)
        if (e + bias >= expAll) return signOut | (expAll << mantBits);   // beyond the largest binade: infinity
        int shift;       // significand bits dropped
        int expField;    // biased exponent of the result before rounding
        if (e >= 1 - bias) {
            shift = 52 - mantBits;
            expField = e + bias;
        } else {          // subnormal result: the unit is 2^(1 - bias - mantBits)
            shift = 52 - mantBits + (1 - bias - e);
            expField = 0;
        }
        if (shift >= 63) return signOut;                                  // below half the smallest subnormal
        long q = mant >>> shift;
        long rem = mant & ((1L << shift) - 1);
        long half = 1L << (shift - 1);
        if (rem > half || (rem == half && (q & 1) == 1)) q++;
        if (expField == 0) return signOut | (int) q;                      // q == 2^mantBits encodes the smallest normal
        // q carries the implicit bit; a carry out of the significand bumps the exponent (up to infinity).
        return signOut | (int) (((long) expField << mantBits) + (q - (1L << mantBits)));
    }
}
