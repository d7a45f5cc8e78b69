package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * {@link Link#autoClip}: AutoClip (Seetharaman et al. 2020). Clips the global L2 norm at the {@code percentile}-th
 * percentile of the norms seen so far, this step's included (numpy's linear interpolation, as the paper's code).
 * The history is kept on the device, sorted, so a step needs no host read: inserting a norm and reading the
 * percentile are a few elementwise passes over the history. It holds the last {@code history} norms (a fixed size,
 * so the state has one shape in every checkpoint); older ones leave it in the order they came. Non-finite norms and
 * steps an earlier link skipped are not added and leave the gradients alone.
 *
 * <p>State: {@code sorted} (F64 [history], the norms in ascending order, then {@code Double.MAX_VALUE}), {@code order}
 * (F64 [history], the same norms in arrival order, a ring), {@code count} and {@code next} (0-d F64).
 */
public record AutoClip(double percentile, int history) implements Link {
    /** The window when none is given: the paper keeps every norm, 10,000 covers most fine-tuning runs. */
    public static final int DEFAULT_HISTORY = 10_000;
    /** Fills the sorted list past {@code count}: above any norm, and finite, since checkpoints refuse infinities. */
    static final double PAD = Double.MAX_VALUE;

    public AutoClip {
        if (!(percentile > 0 && percentile <= 100)) throw new IllegalArgumentException("autoclip: percentile must be in (0, 100], got " + percentile);
        if (history < 1) throw new IllegalArgumentException("autoclip: history must be >= 1 norm, got " + history);
    }

    @Override public LinkState init(List<Tensor> params) {
        Device d = params.isEmpty() ? Device.auto() : params.getFirst().device();
        return LinkState.of(Map.of("sorted", Tensor.full(d, DType.F64, PAD, history),
                "order", Tensor.zeros(d, DType.F64, history), "count", Tensor.zeros(d, DType.F64),
                "next", Tensor.zeros(d, DType.F64)));
    }

    @Override public void update(Gradients g, LinkState s) {
        Device dev = g.device();
        Tensor sorted = s.get("sorted"), order = s.get("order"), count = s.get("count"), next = s.get("next");
        Tensor norm = g.norm(2).to(DType.F64);
        Tensor add = norm.isFinite().mul(g.skipFlag().eq(0)).gt(0);
        Tensor x = Tensor.where(add, norm, Tensor.zeros(dev, DType.F64));
        Tensor idx = Tensor.arange(dev, DType.F64, 0, history, 1);
        Tensor inf = Tensor.full(dev, DType.F64, PAD, 1);
        // a full window first lets its oldest norm go: remove one copy of it from the sorted list
        Tensor full = count.ge(history).mul(add).gt(0);
        Tensor oldest = order.indexSelect(0, next.to(DType.I64).reshape(1)).reshape();
        Tensor at = sorted.lt(oldest).sum();                            // index of its first copy
        Tensor shiftedLeft = Tensor.concat(List.of(sorted.narrow(0, 1, history - 1), inf), 0);
        Tensor kept = Tensor.where(full.mul(idx.ge(at)).gt(0), shiftedLeft, sorted);
        Tensor n = count.sub(full.to(DType.F64));
        // then the new norm goes in at its place
        Tensor pos = kept.lt(x).sum();
        Tensor shiftedRight = Tensor.concat(List.of(inf, kept.narrow(0, 0, history - 1)), 0);
        Tensor inserted = Tensor.where(idx.lt(pos), kept, Tensor.where(idx.eq(pos), x, shiftedRight));
        Tensor newSorted = Tensor.where(add, inserted, sorted);
        Tensor newCount = Tensor.where(add, n.add(1), count);
        order.copyFrom(Tensor.where(add.mul(idx.eq(next)).gt(0), x, order));
        Tensor after = next.add(1);
        next.copyFrom(Tensor.where(add, Tensor.where(after.ge(history), Tensor.zeros(dev, DType.F64), after), next));
        sorted.copyFrom(newSorted);
        count.copyFrom(newCount);
        // the percentile of the history, numpy's linear interpolation between the two nearest ranks
        Tensor last = newCount.sub(1).maximum(0);
        Tensor rank = last.mul(percentile / 100);
        Tensor lo = rank.to(DType.I64);                                  // floor: rank >= 0
        Tensor hi = lo.add(1).to(DType.F64).minimum(last).to(DType.I64);
        Tensor vLo = newSorted.indexSelect(0, lo.reshape(1)).reshape(), vHi = newSorted.indexSelect(0, hi.reshape(1)).reshape();
        Tensor threshold = vLo.add(vHi.sub(vLo).mul(rank.sub(lo.to(DType.F64))));
        Tensor cut = add.mul(x.gt(threshold)).gt(0);
        g.clip(Tensor.where(cut, threshold.div(x.add(1e-6)), Tensor.ones(dev, DType.F64)).to(DType.F32));
    }

    @Override public OptionalDouble readsNorm() { return OptionalDouble.of(2); }

    /** numpy.percentile with linear interpolation, in float64 on the host (the reference for this link's rule). */
    public static double percentile(double[] values, double p) {
        double[] v = values.clone();
        Arrays.sort(v);
        double pos = p / 100 * (v.length - 1);
        int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }
}
