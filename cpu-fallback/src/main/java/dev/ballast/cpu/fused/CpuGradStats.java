package dev.ballast.cpu.fused;

import static dev.ballast.engine.backend.GradStatsLayout.BINS;
import static dev.ballast.engine.backend.GradStatsLayout.COLUMNS;

import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The CPU twin of the gradient statistics pass ({@code multi_tensor_stats} in {@code multi_tensor.cu}): the same
 * chunk partition as the norm pass, one partial per chunk (sums in F64, exact counts, the largest finite |g|, a
 * histogram), combined per tensor in chunk order, so the result does not depend on the thread count.
 */
final class CpuGradStats {
    private CpuGradStats() {}

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** One chunk's share. */
    private static final class Partial {
        double gradSq, weightSq, maxAbs;
        long zeros, nonFinite;
        final long[] hist = new long[BINS];
    }

    static void run(CpuMultiTensorOps ops, List<Strided> grads, List<Strided> weights, Strided stats, Strided histogram) {
        GradStatsLayout.checkArguments(grads, weights, stats, histogram);
        List<CpuMultiTensorOps.Chunk> chunks = CpuMultiTensorOps.chunks(grads);
        Partial[] parts = new Partial[chunks.size()];
        ops.forEachChunk(chunks, c -> {
            CpuMultiTensorOps.Chunk ch = chunks.get(c);
            Partial p = new Partial();
            Strided g = grads.get(ch.tensor());
            Strided w = weights == null ? null : weights.get(ch.tensor());
            for (long e = ch.start(), end = ch.start() + ch.length(); e < end; e++) {
                if (w != null) {
                    float v = load(w, e);
                    if (Float.isFinite(v)) p.weightSq += (double) v * v;
                }
                float x = load(g, e);
                p.hist[GradStatsLayout.bin(x)]++;
                if (!Float.isFinite(x)) {
                    p.nonFinite++;
                    continue;
                }
                if (x == 0) p.zeros++;
                float a = Math.abs(x);
                if (a > p.maxAbs) p.maxAbs = a;
                p.gradSq += (double) x * x;
            }
            parts[c] = p;
        });
        double[][] rows = new double[grads.size()][COLUMNS];
        long[][] hist = new long[grads.size()][BINS];
        for (int c = 0; c < parts.length; c++) {
            int i = chunks.get(c).tensor();
            Partial p = parts[c];
            double[] r = rows[i];
            r[GradStatsLayout.GRAD_SUMSQ] += p.gradSq;
            r[GradStatsLayout.WEIGHT_SUMSQ] += p.weightSq;
            r[GradStatsLayout.GRAD_MAX_ABS] = Math.max(r[GradStatsLayout.GRAD_MAX_ABS], p.maxAbs);
            r[GradStatsLayout.ZEROS] += p.zeros;
            r[GradStatsLayout.NON_FINITE] += p.nonFinite;
            for (int b = 0; b < BINS; b++) hist[i][b] += p.hist[b];
        }
        MemorySegment s = CpuMultiTensorOps.seg(stats), h = CpuMultiTensorOps.seg(histogram);
        for (int i = 0; i < rows.length; i++) {
            for (int k = 0; k < COLUMNS; k++)
                s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, stats.offset() + (long) i * COLUMNS + k, rows[i][k]);
            for (int b = 0; b < BINS; b++)
                h.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, histogram.offset() + (long) i * BINS + b, hist[i][b]);
        }
    }

    private static float load(Strided t, long e) {
        MemorySegment m = CpuMultiTensorOps.seg(t);
        long i = t.offset() + e;
        return switch (t.dtype()) {
            case F32 -> m.getAtIndex(F32, i);
            case F16 -> Float.float16ToFloat(m.getAtIndex(I16, i));
            case BF16 -> HalfFloats.bf16ToFloat(m.getAtIndex(I16, i));
            default -> throw new IllegalStateException("unreachable: " + t.dtype());
        };
    }
}
