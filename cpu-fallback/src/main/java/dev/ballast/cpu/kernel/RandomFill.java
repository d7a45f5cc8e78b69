package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.random.Philox;
import java.lang.foreign.MemorySegment;

/** Fills a contiguous floating tensor from the Philox stream defined in {@link Philox}, in parallel blocks. */
public final class RandomFill {
    private RandomFill() {}

    public static void fill(Parallel par, RandomKind kind, long seed, long offset, View dst) {
        if (!dst.dtype().isFloating())
            throw new IllegalArgumentException("random " + kind + " fills floating tensors; got " + dst.dtype() + " (allowed: f32, f64, f16, bf16)");
        long n = dst.numel();
        par.forEach(Parallel.tasks(n, Parallel.GRAIN), t -> {
            long start = t * Parallel.GRAIN;
            int len = (int) Math.min(Parallel.GRAIN, n - start);
            float[] buf = new float[len];
            if (kind == RandomKind.UNIFORM) Philox.fillUniform(seed, offset + start, buf, 0, len);
            else Philox.fillNormal(seed, offset + start, buf, 0, len);
            if (dst.dtype() == DType.F32) {
                MemorySegment.copy(buf, 0, dst.seg(), JAVA_FLOAT, (dst.offset() + start) * 4, len);
            } else {
                double[] d = new double[len];
                for (int i = 0; i < len; i++) d[i] = buf[i];
                Buffers.storeD(dst.dtype(), dst.seg(), dst.offset() + start, 1, d, len);
            }
        });
    }
}
