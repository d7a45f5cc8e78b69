package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.HalfConversions;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU twin of the fused multi-tensor kernels: the norm pass cuts every tensor into fixed chunks (the same
 * partition for any thread count), accumulates each chunk in F32 vector lanes, and combines the chunks of a
 * tensor, then the tensors, in F64 in index order, so results are deterministic. Optimizer steps run one pass
 * per parameter chunk, reading the coefficient and the skip flag from their (host-resident) tensors.
 */
public final class CpuMultiTensorOps implements MultiTensorOps {
    /** Elements per chunk of the norm pass and the fused updates. */
    static final int CHUNK = 1 << 15;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final java.nio.ByteOrder ORDER = java.nio.ByteOrder.nativeOrder();

    private final Parallel par;

    public CpuMultiTensorOps(Parallel par) { this.par = par; }

    record Chunk(int tensor, long start, long length) {}

    static MemorySegment seg(Strided s) { return ((CpuStorage) s.storage()).segment(); }

    static List<Chunk> chunks(List<Strided> tensors) {
        List<Chunk> out = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            long n = tensors.get(i).numel();
            for (long s = 0; s < n; s += CHUNK) out.add(new Chunk(i, s, Math.min(CHUNK, n - s)));
        }
        return out;
    }

    /**
     * Runs {@code body} for every chunk index, in parallel tasks of consecutive chunks holding at least
     * {@link #CHUNK} elements together, so many small tensors do not each pay for a task. The grouping depends
     * only on the sizes, never on the thread count.
     */
    void forEachChunk(List<Chunk> chunks, java.util.function.IntConsumer body) {
        List<int[]> tasks = new ArrayList<>();
        int first = 0;
        long elements = 0;
        for (int c = 0; c < chunks.size(); c++) {
            elements += chunks.get(c).length();
            if (elements >= CHUNK || c == chunks.size() - 1) {
                tasks.add(new int[]{first, c + 1});
                first = c + 1;
                elements = 0;
            }
        }
        par.forEach(tasks.size(), t -> {
            int[] range = tasks.get((int) t);
            for (int c = range[0]; c < range[1]; c++) body.accept(c);
        });
    }

    @Override
    public void multiTensorNorm(List<Strided> tensors, NormKind kind, double p, Strided perTensor, Strided total) {
        for (Strided t : tensors) {
            if (t.dtype() != DType.F32 && !t.dtype().isHalf())
                throw new IllegalArgumentException("multiTensorNorm: tensors must be f32, f16 or bf16, got " + t.dtype());
            if (!t.isContiguous()) throw new IllegalArgumentException("multiTensorNorm: tensors must be contiguous: " + t);
        }
        List<Chunk> chunks = chunks(tensors);
        double[] acc = new double[chunks.size()];
        long[] bad = new long[chunks.size()];
        forEachChunk(chunks, c -> {
            Chunk ch = chunks.get((int) c);
            Strided t = tensors.get(ch.tensor());
            float[] buf = t.dtype() == DType.F32 ? null : load(t, ch.start(), ch.length());
            long[] nonFinite = new long[1];
            acc[(int) c] = buf == null
                    ? accumulate(seg(t), (t.offset() + ch.start()) * 4, (int) ch.length(), kind, (float) p, nonFinite)
                    : accumulate(MemorySegment.ofArray(buf), 0, buf.length, kind, (float) p, nonFinite);
            bad[(int) c] = nonFinite[0];
        });
        double[] per = new double[tensors.size()];
        if (kind == NormKind.INF) java.util.Arrays.fill(per, 0);
        long badCount = 0;
        for (int c = 0; c < chunks.size(); c++) {
            int i = chunks.get(c).tensor();
            per[i] = kind.combine(per[i], acc[c]);
            badCount += bad[c];
        }
        double combined = 0;
        for (double v : per) combined = kind.combine(combined, v);
        MemorySegment out = seg(total);
        out.setAtIndex(F64, total.offset(), combined);
        out.setAtIndex(F64, total.offset() + 1, badCount);
        if (perTensor != null) {
            MemorySegment pt = seg(perTensor);
            for (int i = 0; i < per.length; i++) pt.setAtIndex(F64, perTensor.offset() + i, per[i]);
        }
    }

    /** The chunk as floats (halves widened). */
    private static float[] load(Strided t, long start, long length) {
        float[] buf = new float[(int) length];
        MemorySegment s = seg(t);
        long base = t.offset() + start;
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, F32, base * 4, buf, 0, buf.length);
            case F16 -> { for (int i = 0; i < buf.length; i++) buf[i] = Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, base + i)); }
            case BF16 -> { for (int i = 0; i < buf.length; i++) buf[i] = HalfFloats.bf16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, base + i)); }
            default -> throw new IllegalStateException("unreachable: " + t.dtype());
        }
        return buf;
    }

    /**
     * One chunk's accumulator in F32 vector lanes, read straight from memory (no staging copy), returned widened;
     * counts non-finite values into {@code nonFinite[0]}. Any NaN or infinity makes every accumulator non-finite, so
     * the hot loop does not count: only a chunk whose result is not finite is scanned again (which also gives the
     * right count, 0, when finite values merely overflowed).
     */
    static double accumulate(MemorySegment s, long byteOffset, int n, NormKind kind, float p, long[] nonFinite) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, s, byteOffset + 4L * i, ORDER);
            acc = switch (kind) {
                case L2 -> v.fma(v, acc);
                case L1 -> acc.add(v.abs());
                case INF -> acc.max(v.abs());
                case P -> acc.add(v.abs().lanewise(VectorOperators.POW, p));
            };
        }
        float tail = 0;
        boolean nan = false;
        for (; i < n; i++) {
            float v = s.get(F32, byteOffset + 4L * i);
            nan |= Float.isNaN(v);
            tail = switch (kind) {
                case L2 -> Math.fma(v, v, tail);
                case L1 -> tail + Math.abs(v);
                case INF -> Math.max(tail, Math.abs(v));
                case P -> tail + (float) Math.pow(Math.abs(v), p);
            };
        }
        double result;
        if (kind == NormKind.INF) {
            // reduceLanes(MAX) may drop NaN lanes; the norm of a tensor holding NaN is NaN
            result = nan || acc.test(VectorOperators.IS_NAN).anyTrue() ? Double.NaN : Math.max(acc.reduceLanes(VectorOperators.MAX), tail);
        } else {
            double sum = tail;
            for (int l = 0; l < F.length(); l++) sum += acc.lane(l);
            result = sum;
        }
        long bad = 0;
        if (!Double.isFinite(result)) {
            for (int k = 0; k < n; k++) if (!Float.isFinite(s.get(F32, byteOffset + 4L * k))) bad++;
        }
        nonFinite[0] = bad;
        return result;
    }

    @Override
    public void multiTensorStats(List<Strided> grads, List<Strided> weights, Strided stats, Strided histogram) {
        CpuGradStats.run(this, grads, weights, stats, histogram);
    }

    @Override
    public void clipCoefficient(Strided total, NormKind kind, double p, double maxNorm, Strided out) {
        MemorySegment t = seg(total);
        double acc = t.getAtIndex(F64, total.offset());
        double bad = t.getAtIndex(F64, total.offset() + 1);
        float norm = (float) kind.finish(acc, p);
        // float arithmetic as PyTorch does it on a float32 norm
        float coef = Math.min((float) maxNorm / (norm + 1e-6f), 1.0f);
        if (Float.isNaN(norm)) coef = Float.NaN;
        MemorySegment o = seg(out);
        o.setAtIndex(F32, out.offset(), norm);
        o.setAtIndex(F32, out.offset() + 1, coef);
        o.setAtIndex(F32, out.offset() + 2, bad > 0 ? 1f : 0f);
    }

    private static float scalar(Strided s) {
        MemorySegment m = seg(s);
        return switch (s.dtype()) {
            case F32 -> m.getAtIndex(F32, s.offset());
            case F64 -> (float) m.getAtIndex(F64, s.offset());
            case F16 -> Float.float16ToFloat(m.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, s.offset()));
            case BF16 -> HalfFloats.bf16ToFloat(m.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, s.offset()));
            case I32 -> m.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, s.offset());
            case I64 -> m.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, s.offset());
        };
    }

    @Override
    public void multiTensorScale(List<Strided> tensors, Strided coefficient) {
        float c = scalar(coefficient);
        for (Strided t : tensors)
            if (t.dtype() != DType.F32 || !t.isContiguous())
                throw new IllegalArgumentException("multiTensorScale: tensors must be contiguous f32, got " + t);
        List<Chunk> chunks = chunks(tensors);
        forEachChunk(chunks, k -> {
            Chunk ch = chunks.get((int) k);
            Strided t = tensors.get(ch.tensor());
            MemorySegment s = seg(t);
            long base = (t.offset() + ch.start()) * 4, n = ch.length();
            long i = 0, upper = F.loopBound(n);
            for (; i < upper; i += F.length()) {
                FloatVector.fromMemorySegment(F, s, base + i * 4, ORDER).mul(c)
                        .intoMemorySegment(s, base + i * 4, ORDER);
            }
            for (; i < n; i++) s.set(F32, base + i * 4, s.get(F32, base + i * 4) * c);
        });
    }

    private static void checkF32(String op, List<Strided> a, List<Strided> b) {
        if (b != null && a.size() != b.size())
            throw new IllegalArgumentException(op + ": " + a.size() + " parameters but " + b.size() + " companions");
        for (int i = 0; i < a.size(); i++) {
            Strided x = a.get(i);
            if (x.dtype() != DType.F32 || !x.isContiguous())
                throw new IllegalArgumentException(op + ": tensors must be contiguous f32, got " + x);
            if (b != null && b.get(i).numel() != x.numel())
                throw new IllegalArgumentException(op + ": tensor " + i + " has " + x.numel() + " elements but its companion has " + b.get(i).numel());
        }
    }

    private static void checkFactor(String op, Strided lrFactor) {
        if (lrFactor != null && lrFactor.numel() != 1)
            throw new IllegalArgumentException(op + ": lrFactor must be one element, got " + lrFactor);
    }

    private static void checkCopies(List<Strided> params, List<Strided> copies) {
        if (copies == null) return;
        if (copies.size() != params.size())
            throw new IllegalArgumentException("working copies: " + copies.size() + " copies for " + params.size() + " parameters");
        for (int i = 0; i < copies.size(); i++) {
            Strided c = copies.get(i);
            if (!c.dtype().isHalf() || !c.isContiguous() || c.numel() != params.get(i).numel())
                throw new IllegalArgumentException("working copy " + i + " must be a contiguous f16/bf16 tensor of "
                        + params.get(i).numel() + " elements, got " + c);
        }
    }

    /**
     * Rounds the {@code n} freshly updated weights at byte offset {@code pByteOff} of {@code p} into the working copy,
     * from elements {@code start}: while the chunk is still in cache, so the copy costs no extra pass over memory.
     * {@link HalfConversions#row} is the cast kernel's own row conversion (BF16 in Vector API lanes, F16 through the
     * hardware conversion), so the copy has the bits {@code Tensor.to(F16/BF16)} would give.
     */
    private static void writeCopy(MemorySegment p, long pByteOff, Strided copy, long start, int n) {
        HalfConversions.row(DType.F32, p, pByteOff / 4, 1, copy.dtype(), seg(copy), copy.offset() + start, 1, n);
    }

    /** Reads skip, advances the device step counter; returns the new step, or -1 when the step is skipped. */
    private static long advance(Strided skip, Strided step) {
        if (skip != null && scalar(skip) != 0) return -1;
        MemorySegment m = seg(step);
        double t = m.getAtIndex(F64, step.offset()) + 1;
        m.setAtIndex(F64, step.offset(), t);
        return (long) t;
    }

    /**
     * The scheduled learning rate of taken step {@code t} times the factor (null: 1), multiplied in double before the
     * one rounding to float: exactly the rate of a schedule built with {@code lr * factor} when the schedule is
     * constant, and unchanged, bit for bit, by a factor of 1. The kernels ({@code fused_adam}, {@code fused_sgd}) do
     * the same.
     */
    private static float learningRate(LrSchedule schedule, long t, Strided lrFactor) {
        double lr = schedule.at(t);
        return (float) (lrFactor == null ? lr : lr * scalar(lrFactor));
    }

    @Override
    public boolean fusedAdam(List<Strided> params, List<Strided> grads, List<Strided> expAvg, List<Strided> expAvgSq,
                             AdamParams h, LrSchedule schedule, Strided coefficient, Strided skip, Strided step,
                             Strided lrFactor, List<Strided> lowPrecisionCopies) {
        checkCopies(params, lowPrecisionCopies);
        checkFactor("fusedAdam", lrFactor);
        checkF32("fusedAdam", params, grads);
        checkF32("fusedAdam", params, expAvg);
        checkF32("fusedAdam", params, expAvgSq);
        long t = advance(skip, step);
        if (t < 0) return true; // skipped: weights and copies unchanged
        float coef = coefficient == null ? 1f : scalar(coefficient);
        float lr = learningRate(schedule, t, lrFactor);
        float b1 = (float) h.beta1(), b2 = (float) h.beta2(), eps = (float) h.eps(), wd = (float) h.weightDecay();
        float bc1 = (float) (1 - Math.pow(h.beta1(), t));
        float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(h.beta2(), t));
        float stepSize = lr / bc1;
        float decay = h.decoupled() ? 1 - lr * wd : 1;
        List<Chunk> chunks = chunks(params);
        forEachChunk(chunks, k -> {
            Chunk ch = chunks.get((int) k);
            int i = ch.tensor();
            MemorySegment p = seg(params.get(i)), g = seg(grads.get(i)), m = seg(expAvg.get(i)), v = seg(expAvgSq.get(i));
            long po = 4 * (params.get(i).offset() + ch.start()), go = 4 * (grads.get(i).offset() + ch.start());
            long mo = 4 * (expAvg.get(i).offset() + ch.start()), vo = 4 * (expAvgSq.get(i).offset() + ch.start());
            boolean l2 = !h.decoupled() && wd != 0;
            int n = (int) ch.length(), e = 0, upper = F.loopBound(n);
            // the vector loop and the scalar tail do the same float operations in the same order (no FMA)
            for (; e < upper; e += F.length()) {
                long off = 4L * e;
                FloatVector pv = FloatVector.fromMemorySegment(F, p, po + off, ORDER);
                FloatVector gv = FloatVector.fromMemorySegment(F, g, go + off, ORDER).mul(coef);
                if (l2) gv = gv.add(pv.mul(wd));
                pv = pv.mul(decay);
                FloatVector mv = FloatVector.fromMemorySegment(F, m, mo + off, ORDER);
                mv = mv.add(gv.sub(mv).mul(1 - b1));
                FloatVector vv = FloatVector.fromMemorySegment(F, v, vo + off, ORDER).mul(b2).add(gv.mul(1 - b2).mul(gv));
                FloatVector denom = vv.sqrt().div(bc2Sqrt).add(eps);
                pv.sub(mv.div(denom).mul(stepSize)).intoMemorySegment(p, po + off, ORDER);
                mv.intoMemorySegment(m, mo + off, ORDER);
                vv.intoMemorySegment(v, vo + off, ORDER);
            }
            for (; e < n; e++) {
                long off = 4L * e;
                float pv = p.get(F32, po + off);
                float gv = g.get(F32, go + off) * coef;
                if (l2) gv = gv + pv * wd;
                pv = pv * decay;
                float mv = m.get(F32, mo + off);
                mv = mv + (gv - mv) * (1 - b1);
                float vv = v.get(F32, vo + off) * b2 + gv * (1 - b2) * gv;
                float denom = (float) Math.sqrt(vv) / bc2Sqrt + eps;
                p.set(F32, po + off, pv - mv / denom * stepSize);
                m.set(F32, mo + off, mv);
                v.set(F32, vo + off, vv);
            }
            if (lowPrecisionCopies != null) writeCopy(p, po, lowPrecisionCopies.get(i), ch.start(), n);
        });
        return true;
    }

    @Override
    public boolean fusedSgd(List<Strided> params, List<Strided> grads, List<Strided> momentumBuffers, SgdParams h,
                            LrSchedule schedule, Strided coefficient, Strided skip, Strided step, Strided lrFactor,
                            List<Strided> lowPrecisionCopies) {
        checkCopies(params, lowPrecisionCopies);
        checkFactor("fusedSgd", lrFactor);
        checkF32("fusedSgd", params, grads);
        if (momentumBuffers != null) checkF32("fusedSgd", params, momentumBuffers);
        long t = advance(skip, step);
        if (t < 0) return true; // skipped: weights and copies unchanged
        float coef = coefficient == null ? 1f : scalar(coefficient);
        float lr = learningRate(schedule, t, lrFactor);
        float mu = (float) h.momentum(), damp = (float) h.dampening(), wd = (float) h.weightDecay();
        boolean first = t == 1;
        List<Chunk> chunks = chunks(params);
        forEachChunk(chunks, k -> {
            Chunk ch = chunks.get((int) k);
            int i = ch.tensor();
            MemorySegment p = seg(params.get(i)), g = seg(grads.get(i));
            long po = params.get(i).offset() + ch.start(), go = grads.get(i).offset() + ch.start();
            MemorySegment b = momentumBuffers == null ? null : seg(momentumBuffers.get(i));
            long bo = momentumBuffers == null ? 0 : momentumBuffers.get(i).offset() + ch.start();
            for (long e = 0; e < ch.length(); e++) {
                float pv = p.getAtIndex(F32, po + e);
                float d = g.getAtIndex(F32, go + e) * coef;
                if (wd != 0) d = d + wd * pv;
                if (b != null) {
                    // torch.optim.SGD: the first step copies the gradient into the buffer
                    float buf = first ? d : b.getAtIndex(F32, bo + e) * mu + (1 - damp) * d;
                    b.setAtIndex(F32, bo + e, buf);
                    d = h.nesterov() ? d + mu * buf : buf;
                }
                p.setAtIndex(F32, po + e, pv - lr * d);
            }
            if (lowPrecisionCopies != null) writeCopy(p, 4 * po, lowPrecisionCopies.get(i), ch.start(), (int) ch.length());
        });
        return true;
    }
}
