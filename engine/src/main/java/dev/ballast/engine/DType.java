package dev.ballast.engine;

/**
 * Element types a tensor can hold. Floating types compute in at least float32 on every backend;
 * F16 and BF16 are storage types whose arithmetic is done in F32 and rounded back (as PyTorch does on CPU).
 */
public enum DType {
    F32(4, true), F16(2, true), BF16(2, true), F64(8, true), I32(4, false), I64(8, false);

    private final int byteSize;
    private final boolean floating;

    DType(int byteSize, boolean floating) {
        this.byteSize = byteSize;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int byteSize() { return byteSize; }

    /** True for F32, F16, BF16 and F64. */
    public boolean isFloating() { return floating; }

    /** True for the 16-bit storage types whose arithmetic runs in F32. */
    public boolean isHalf() { return this == F16 || this == BF16; }

    /** Lower-case name as used in files and on the command line (f32, bf16, i64...). */
    public String label() { return name().toLowerCase(java.util.Locale.ROOT); }

    /**
     * The type two operands are promoted to: floating beats integer, wider beats narrower,
     * and F16 with BF16 gives F32 (as PyTorch does).
     */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a.floating != b.floating) return a.floating ? a : b;
        if (!a.floating) return (a == I64 || b == I64) ? I64 : I32;
        if (a == F64 || b == F64) return F64;
        return F32; // F32 with anything half, or F16 with BF16
    }

    /** Parses a label such as "f32" or "bf16", naming the allowed values when it is not one. */
    public static DType parse(String label) {
        for (DType t : values()) if (t.label().equalsIgnoreCase(label)) return t;
        throw new IllegalArgumentException("unknown dtype '" + label + "'; allowed: f32, f16, bf16, f64, i32, i64");
    }
}
