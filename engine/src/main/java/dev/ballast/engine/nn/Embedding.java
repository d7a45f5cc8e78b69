package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.init.Init;

/**
 * A lookup table of {@code num} vectors of size {@code dim}, as torch.nn.Embedding: integer indices of any
 * shape map to {@code [..., dim]}. The weight is drawn from N(0, 1); its gradient accumulates (index_add) into
 * the rows that were looked up, repeated indices summing.
 */
public final class Embedding extends Module {
    private final long num;
    private final long dim;
    private final Tensor weight;

    public Embedding(long num, long dim, ParamSpec spec) {
        if (num <= 0 || dim <= 0)
            throw new IllegalArgumentException("Embedding: sizes must be positive, got num=" + num + " dim=" + dim);
        this.num = num;
        this.dim = dim;
        weight = registerParameter("weight", Init.normal(spec.empty(num, dim), 0, 1, spec.generator()));
    }

    public Tensor weight() { return weight; }

    public long num() { return num; }

    public long dim() { return dim; }

    /** Looks up {@code indices} (I32 or I64, any shape; each in [0, num)). */
    @Override
    protected Tensor forward(Tensor indices) {
        if (indices.dtype().isFloating())
            throw new IllegalArgumentException("Embedding at '" + path() + "': indices must be i32 or i64, got " + indices.dtype());
        long[] shape = indices.shape();
        long[] out = java.util.Arrays.copyOf(shape, shape.length + 1);
        out[shape.length] = dim;
        return weight.indexSelect(0, indices.reshape(indices.numel())).reshape(out);
    }
}
