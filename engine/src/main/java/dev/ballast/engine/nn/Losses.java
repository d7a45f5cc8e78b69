package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;
import java.util.Arrays;

/**
 * Loss functions with torch.nn.functional's semantics and mean reduction, differentiable through autograd.
 */
public final class Losses {
    private Losses() {}

    /** The index PyTorch's cross_entropy ignores by default. */
    public static final long DEFAULT_IGNORE_INDEX = -100;

    /** Mean squared error; {@code input} and {@code target} must have the same shape. */
    public static Tensor mse(Tensor input, Tensor target) {
        if (!Arrays.equals(input.shape(), target.shape()))
            throw new IllegalArgumentException("mse: input shape " + Arrays.toString(input.shape()) + " and target shape "
                    + Arrays.toString(target.shape()) + " differ");
        return input.sub(target).square().mean();
    }

    /** {@link #crossEntropy(Tensor, Tensor, long, double)} with ignoreIndex -100 and no label smoothing. */
    public static Tensor crossEntropy(Tensor logits, Tensor target) {
        return crossEntropy(logits, target, DEFAULT_IGNORE_INDEX, 0);
    }

    /**
     * Cross-entropy from unnormalized logits, as torch.nn.functional.cross_entropy with class-index targets and
     * mean reduction. {@code logits} is {@code [N, C]} or {@code [N, C, d1, ...]} and {@code target} (I32/I64)
     * is {@code [N]} or {@code [N, d1, ...]}, each value in [0, C) or {@code ignoreIndex}. With label smoothing
     * {@code e} the loss per position is {@code (1 - e) * nll + e * mean_c(-log p_c)}. Ignored positions count
     * neither in the sum nor in the divisor; when every position is ignored the result is NaN (0 / 0), as in PyTorch.
     */
    public static Tensor crossEntropy(Tensor logits, Tensor target, long ignoreIndex, double labelSmoothing) {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new IllegalArgumentException("crossEntropy: labelSmoothing must be in [0, 1], got " + labelSmoothing);
        if (target.dtype().isFloating())
            throw new IllegalArgumentException("crossEntropy: target must hold class indices (i32 or i64), got " + target.dtype()
                    + "; probability targets are not supported");
        long[] ls = logits.shape(), ts = target.shape();
        boolean shapesOk = ls.length >= 2 && ts.length == ls.length - 1 && ts[0] == ls[0];
        for (int i = 2; shapesOk && i < ls.length; i++) shapesOk = ts[i - 1] == ls[i];
        if (!shapesOk)
            throw new IllegalArgumentException("crossEntropy: logits " + Arrays.toString(ls) + " must be [N, C] or [N, C, d...]"
                    + " and target [N] or [N, d...], got target " + Arrays.toString(ts));
        long classes = ls[1];
        Tensor flat = logits;
        if (ls.length > 2) { // [N, C, d...] -> [N*d..., C]
            int[] perm = new int[ls.length];
            perm[0] = 0;
            for (int i = 1; i < ls.length - 1; i++) perm[i] = i + 1;
            perm[ls.length - 1] = 1;
            flat = logits.permute(perm).reshape(-1, classes);
        }
        Tensor t = target.reshape(target.numel());
        Tensor logp = flat.logSoftmax(1);
        Tensor valid = t.ne((double) ignoreIndex);       // 1 where counted, integer
        Tensor safe = t.mul(valid).unsqueeze(1);          // ignored positions read class 0, then get weight 0
        Tensor w = valid.to(logits.dtype());
        Tensor count = w.sum();
        Tensor nll = logp.gather(1, safe).squeeze(1).neg().mul(w).sum().div(count);
        if (labelSmoothing == 0) return nll;
        Tensor smooth = logp.sum(1, false).neg().mul(w).sum().div(count).mul(labelSmoothing / classes);
        return nll.mul(1 - labelSmoothing).add(smooth);
    }

    /**
     * Binary cross-entropy from logits with mean reduction, as binary_cross_entropy_with_logits, in the stable form
     * {@code max(x, 0) - x * y + log(1 + exp(-|x|))}; {@code target} (probabilities in [0, 1]) has the input's shape.
     */
    public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor target) {
        if (!Arrays.equals(logits.shape(), target.shape()))
            throw new IllegalArgumentException("binaryCrossEntropyWithLogits: logits shape " + Arrays.toString(logits.shape())
                    + " and target shape " + Arrays.toString(target.shape()) + " differ");
        Tensor softplusNegAbs = logits.abs().neg().exp().add(1).log();
        return logits.maximum(0).sub(logits.mul(target)).add(softplusNegAbs).mean();
    }
}
