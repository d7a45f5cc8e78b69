package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Dimension collapsing and the struct layout shared with common.cuh, plus op-code and bf16 checks. */
class NdArgsTest {
    @Test
    void contiguousCollapsesToOneDim() {
        NdArgs nd = NdArgs.of(new long[] {2, 3, 4}, new long[] {12, 4, 1});
        assertArrayEquals(new long[] {24}, nd.shape());
        assertArrayEquals(new long[] {1}, nd.strides()[0]);
    }

    @Test
    void broadcastAndTransposeKeepTheirDims() {
        // a: [2,3] broadcast along rows (stride 0), b: transposed [3,2] storage
        NdArgs nd = NdArgs.of(new long[] {2, 1, 3}, new long[] {0, 0, 1}, new long[] {1, 99, 2});
        assertArrayEquals(new long[] {2, 3}, nd.shape());
        assertArrayEquals(new long[] {0, 1}, nd.strides()[0]);
        assertArrayEquals(new long[] {1, 2}, nd.strides()[1]);
    }

    @Test
    void scalarViewIsRankOne() {
        NdArgs nd = NdArgs.of(new long[] {}, new long[] {});
        assertArrayEquals(new long[] {1}, nd.shape());
    }

    @Test
    void tooManyDimsIsAClearError() {
        long[] shape = new long[9], strides = new long[9];
        for (int i = 0; i < 9; i++) { shape[i] = 2; strides[i] = 1L << (2 * (8 - i)); } // gaps: nothing merges
        var e = assertThrows(IllegalArgumentException.class, () -> NdArgs.of(shape, strides));
        assertEquals(true, e.getMessage().contains("at most 8"));
    }

    @Test
    void structLayoutMatchesCommonCuh() {
        NdArgs nd = NdArgs.of(new long[] {5, 7}, new long[] {14, 2}, new long[] {0, 1}, new long[] {7, 1});
        try (Arena a = Arena.ofConfined()) {
            var seg = a.allocate(NdArgs.BYTES + 8);
            nd.write(seg, 8);
            assertEquals(264, NdArgs.BYTES);
            assertEquals(2, seg.get(ValueLayout.JAVA_LONG, 8));
            assertEquals(5, seg.get(ValueLayout.JAVA_LONG, 16));
            assertEquals(7, seg.get(ValueLayout.JAVA_LONG, 24));
            assertEquals(14, seg.get(ValueLayout.JAVA_LONG, 8 + 8 + 64));       // s0[0]
            assertEquals(1, seg.get(ValueLayout.JAVA_LONG, 8 + 8 + 128 + 8));   // s1[1]
            assertEquals(7, seg.get(ValueLayout.JAVA_LONG, 8 + 8 + 192));       // s2[0]
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, HalfBits.toBf16(1f));
        assertEquals((short) 0x3F80, HalfBits.toBf16(Float.intBitsToFloat(0x3F808000))); // tie, even stays
        assertEquals((short) 0x3F82, HalfBits.toBf16(Float.intBitsToFloat(0x3F818000))); // tie, odd rounds up
        assertEquals((short) 0x3F81, HalfBits.toBf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x7F80, HalfBits.toBf16(Float.POSITIVE_INFINITY));
        assertEquals(true, Float.isNaN(Float.intBitsToFloat(HalfBits.toBf16(Float.NaN) << 16)));
    }

    @Test
    void opCodesFollowTheKernelCaseLabels() {
        assertEquals(0, OpCodes.unary(dev.ballast.engine.backend.UnaryOp.NEG));
        assertEquals(9, OpCodes.unary(dev.ballast.engine.backend.UnaryOp.GELU));
        assertEquals(16, OpCodes.unary(dev.ballast.engine.backend.UnaryOp.ISNAN));
        assertEquals(12, OpCodes.binary(dev.ballast.engine.backend.BinaryOp.GE));
        assertEquals(4, OpCodes.reduce(dev.ballast.engine.backend.ReduceOp.ARGMIN));
        String ew = KernelSources.read("elementwise.cu");
        for (var op : dev.ballast.engine.backend.UnaryOp.values())
            assertEquals(true, ew.matches("(?s).*case " + OpCodes.unary(op) + ":[^\\n]*// " + op.name() + "\\b.*"), "unary " + op);
        for (var op : dev.ballast.engine.backend.BinaryOp.values())
            assertEquals(true, ew.matches("(?s).*case " + OpCodes.binary(op) + ":[^\\n]*// " + op.name() + "\\b.*"), "binary " + op);
    }
}
