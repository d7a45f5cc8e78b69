package dev.ballast.cpu.kernel;

import dev.ballast.engine.DType;
import java.lang.foreign.MemorySegment;

/**
 * A strided operand as kernels see it: the native memory of its storage (exactly the storage's size,
 * so every access is bounds checked), dtype, element offset, shape and element strides.
 */
public record View(MemorySegment seg, DType dtype, long offset, long[] shape, long[] strides) {

    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Whether the compute domain is floating (double work arrays) rather than integer (long). */
    public boolean floating() { return dtype.isFloating(); }
}
