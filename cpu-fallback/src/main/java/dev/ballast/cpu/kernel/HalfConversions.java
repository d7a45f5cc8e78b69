package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * F32 to and from F16/BF16 rows without going through double, the conversions mixed precision makes on every
 * product (operands down, results and gradients up). Rounding is the same as {@link Buffers}' (to nearest even,
 * NaN stays NaN). Unit-stride BF16 rows use the Vector API (BF16 is the upper half of an F32); F16 rows use
 * {@link Float#floatToFloat16} / {@link Float#float16ToFloat}, which C2 compiles to the hardware conversion.
 */
public final class HalfConversions {
    private HalfConversions() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** Whether this class converts between {@code from} and {@code to}. */
    static boolean handles(DType from, DType to) {
        return (from == DType.F32 && to.isHalf()) || (from.isHalf() && to == DType.F32);
    }

    /** Converts {@code len} elements; offsets and strides are in elements. */
    public static void row(DType st, MemorySegment s, long so, long ss, DType dt, MemorySegment d, long dOff, long ds, int len) {
        if (st == DType.F32) {
            if (dt == DType.BF16) toBf16(s, so, ss, d, dOff, ds, len);
            else for (int i = 0; i < len; i++)
                d.set(JAVA_SHORT_UNALIGNED, (dOff + i * ds) * 2, Float.floatToFloat16(s.get(JAVA_FLOAT_UNALIGNED, (so + i * ss) * 4)));
        } else if (st == DType.BF16) {
            fromBf16(s, so, ss, d, dOff, ds, len);
        } else {
            for (int i = 0; i < len; i++)
                d.set(JAVA_FLOAT_UNALIGNED, (dOff + i * ds) * 4, Float.float16ToFloat(s.get(JAVA_SHORT_UNALIGNED, (so + i * ss) * 2)));
        }
    }

    private static void toBf16(MemorySegment s, long so, long ss, MemorySegment d, long dOff, long ds, int len) {
        int i = 0;
        if (ss == 1 && ds == 1) {
            for (int upper = I.loopBound(len); i < upper; i += I.length()) {
                IntVector bits = FloatVector.fromMemorySegment(F, s, (so + i) * 4, ORDER).reinterpretAsInts();
                // round to nearest even on the dropped 16 bits; NaN keeps its upper half with the quiet bit set
                IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF);
                VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
                IntVector upper16 = rounded.blend(bits.or(0x0040_0000), nan).lanewise(VectorOperators.LSHR, 16);
                ((ShortVector) upper16.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(d, (dOff + i) * 2, ORDER);
            }
        }
        for (; i < len; i++)
            d.set(JAVA_SHORT_UNALIGNED, (dOff + i * ds) * 2, HalfFloats.floatToBf16(s.get(JAVA_FLOAT_UNALIGNED, (so + i * ss) * 4)));
    }

    private static void fromBf16(MemorySegment s, long so, long ss, MemorySegment d, long dOff, long ds, int len) {
        int i = 0;
        if (ss == 1 && ds == 1) {
            for (int upper = I.loopBound(len); i < upper; i += I.length()) {
                ShortVector h = ShortVector.fromMemorySegment(S, s, (so + i) * 2, ORDER);
                IntVector bits = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16);
                bits.reinterpretAsFloats().intoMemorySegment(d, (dOff + i) * 4, ORDER);
            }
        }
        for (; i < len; i++)
            d.set(JAVA_FLOAT_UNALIGNED, (dOff + i * ds) * 4, HalfFloats.bf16ToFloat(s.get(JAVA_SHORT_UNALIGNED, (so + i * ss) * 2)));
    }
}
