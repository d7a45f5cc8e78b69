package dev.ballast.stability.chain;

import dev.ballast.stability.clip.ClipGrad;

/** {@link Link#adaptiveClip}: unit-wise AGC on the gradients as they stand here (see {@code ClipGrad.adaptiveClipGrad}). */
public record AdaptiveClip(double clipping, double eps) implements Link {
    public AdaptiveClip {
        if (!(clipping > 0)) throw new IllegalArgumentException("adaptiveClip: clipping must be > 0, got " + clipping);
        if (!(eps >= 0)) throw new IllegalArgumentException("adaptiveClip: eps must be >= 0, got " + eps);
    }

    @Override public void update(Gradients g, LinkState state) {
        g.tensors(); // applies any pending factor: AGC compares the gradients as they stand with the weights
        ClipGrad.adaptiveClipGrad(g.params(), clipping, eps);
    }
}
