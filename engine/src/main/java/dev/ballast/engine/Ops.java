package dev.ballast.engine;

import dev.ballast.engine.autograd.AnomalyException;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.autograd.Node;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;

/**
 * Elementwise ops and their gradients, and the one place where ops are recorded for autograd. Half-precision
 * operands are computed in F32 and rounded back unless the backend computes halves itself.
 */
final class Ops {
    private Ops() {}

    private static final Tensor[] NONE = new Tensor[0];

    /** Attaches a graph node to {@code out} when grad mode is on and an input needs gradients; checks anomalies. */
    static Tensor record(Tensor out, String op, Node.Backward backward, Tensor... inputs) {
        return recordSaving(out, op, NONE, backward, inputs);
    }

    /**
     * As {@link #record}, for an op whose backward reads the values of {@code saved} (inputs or its output): their
     * versions are recorded, and backward refuses to run once one of them was changed in place.
     */
    static Tensor recordSaving(Tensor out, String op, Tensor[] saved, Node.Backward backward, Tensor... inputs) {
        if (GradMode.isAnomalyEnabled()) checkFinite(out, op, Backprop.isRunning());
        if (!GradMode.isEnabled()) return out;
        boolean any = false;
        for (Tensor in : inputs) any |= in != null && in.requiresGrad;
        if (!any) return out;
        if (out.gradFn != null || out.requiresGrad) out = out.detach(); // never overwrite another op's node
        long[] versions = new long[saved.length];
        for (int i = 0; i < saved.length; i++) versions[i] = saved[i].version.value;
        out.gradFn = new Node(op, GradMode.currentModule(), inputs, backward, saved, versions);
        out.requiresGrad = true;
        return out;
    }

    static void checkFinite(Tensor t, String op, boolean backward) {
        if (!t.dtype.isFloating()) return;
        for (double v : t.toDoubleArray()) {
            if (!Double.isFinite(v))
                throw new AnomalyException(op, GradMode.currentModule(), backward,
                        "first value " + v + " in output of shape " + Shape.str(t.shape));
        }
    }

    static DType computeType(DType t, Backend b) {
        return t.isHalf() && !b.supportsHalfCompute() ? DType.F32 : t;
    }

    static void sameDevice(String op, Tensor a, Tensor b) {
        if (a.device.backend() != b.device.backend())
            throw new IllegalArgumentException(op + ": tensors are on different devices (" + a.device.name() + " and "
                    + b.device.name() + "); move one with to(device)");
    }

    private static Tensor castIfNeeded(Tensor t, DType ct) {
        if (t.dtype == ct) return t;
        try (GradMode.Guard g = GradMode.noGrad()) {
            return t.to(ct);
        }
    }

    private static Tensor finish(Tensor out, DType target) {
        if (out.dtype == target) return out;
        try (out) {
            return out.to(target);
        }
    }

    private static void closeTemp(Tensor temp, Tensor original) {
        if (temp != original) temp.close();
    }

    // ---------------------------------------------------------------- unary

    static Tensor unary(UnaryOp op, Tensor x) {
        x.checkOpen();
        if (!x.dtype.isFloating() && !integerUnary(op))
            throw new IllegalArgumentException(op.name().toLowerCase() + ": needs a floating tensor, got " + x.dtype
                    + " (allowed: f32, f16, bf16, f64)");
        DType ct = computeType(x.dtype, x.backend());
        Tensor xc = castIfNeeded(x, ct);
        Tensor out = Tensor.empty(x.device, ct, x.shape);
        x.backend().unary(op, xc.view(), out.view());
        closeTemp(xc, x);
        out = finish(out, x.dtype);
        Tensor y = out;
        Tensor[] saved = switch (op) {
            case ABS, LOG, RELU, GELU, SIN, COS, SQUARE, ERF -> new Tensor[]{x};
            case EXP, SQRT, RSQRT, TANH, SIGMOID, RECIPROCAL -> new Tensor[]{y};
            default -> NONE;
        };
        return recordSaving(out, op.name().toLowerCase(), saved, g -> new Tensor[]{unaryGrad(op, x, y, g)}, x);
    }

    private static boolean integerUnary(UnaryOp op) {
        return switch (op) {
            case NEG, ABS, SIGN, SQUARE -> true;
            default -> false;
        };
    }

    /**
     * ReLU's ({@code relu}, from x) or tanh's (from y) gradient in one pass where the backend offers it for these
     * operands (one F32 or F64 dtype), else null; the bits equal the composed ops'.
     */
    private static Tensor fusedGrad(boolean relu, Tensor in, Tensor g) {
        if (g.dtype != in.dtype || (in.dtype != DType.F32 && in.dtype != DType.F64)
                || !(in.backend().fusedActivations().orElse(null) instanceof FusedActivations f)) return null;
        Tensor out = Tensor.empty(in.device, in.dtype, in.shape);
        if (relu) f.reluBackward(in.view(), broadcastView(g, in.shape), out.view());
        else f.tanhBackward(in.view(), broadcastView(g, in.shape), out.view());
        return out;
    }

    private static Tensor unaryGrad(UnaryOp op, Tensor x, Tensor y, Tensor g) {
        return switch (op) {
            case NEG -> g.neg();
            case ABS -> g.mul(x.sign());
            case EXP -> g.mul(y);
            case LOG -> g.div(x);
            case SQRT -> g.mul(0.5).div(y);
            case RSQRT -> g.mul(y.pow(3)).mul(-0.5);
            case TANH -> {
                Tensor fused = fusedGrad(false, y, g);
                yield fused != null ? fused : g.mul(y.square().rsub(1));
            }
            case SIGMOID -> g.mul(y.mul(y.rsub(1)));
            case RELU -> {
                Tensor fused = fusedGrad(true, x, g);
                yield fused != null ? fused : g.mul(x.gt(0));
            }
            case GELU -> {
                if (x.backend().fusedActivations().orElse(null) instanceof FusedActivations f && x.dtype.isFloating()) {
                    Tensor out = Tensor.empty(x.device, g.dtype, x.shape);
                    f.geluBackward(broadcastView(x, x.shape), broadcastView(g, x.shape), out.view());
                    yield out;
                }
                // d/dx x*Phi(x) = Phi(x) + x*phi(x)
                Tensor cdf = x.mul(Math.sqrt(0.5)).erf().add(1).mul(0.5);
                Tensor pdf = x.square().mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI));
                yield g.mul(cdf.add(x.mul(pdf)));
            }
            case SIN -> g.mul(x.cos());
            case COS -> g.mul(x.sin()).neg();
            case SQUARE -> g.mul(x).mul(2);
            case RECIPROCAL -> g.mul(y.square()).neg();
            case ERF -> g.mul(x.square().neg().exp().mul(2 / Math.sqrt(Math.PI)));
            case SIGN, ISFINITE, ISNAN -> Tensor.zeros(x.device, g.dtype, x.shape);
        };
    }

    // ---------------------------------------------------------------- binary

    static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        String name = op.name().toLowerCase();
        a.checkOpen();
        b.checkOpen();
        sameDevice(name, a, b);
        DType t = DType.promote(a.dtype, b.dtype);
        long[] shape = Shape.broadcast(a.shape, b.shape, name);
        DType ct = computeType(t, a.backend());
        Tensor ac = castIfNeeded(a, ct), bc = castIfNeeded(b, ct);
        Tensor out = Tensor.empty(a.device, ct, shape);
        a.backend().binary(op, broadcastView(ac, shape), broadcastView(bc, shape), out.view());
        closeTemp(ac, a);
        closeTemp(bc, b);
        out = finish(out, t);
        if (op.isComparison()) return out;
        Tensor y = out;
        Tensor[] saved = switch (op) {
            case MUL, MAX, MIN -> new Tensor[]{a, b};
            case DIV -> new Tensor[]{b, y};
            case POW -> new Tensor[]{a, b, y};
            default -> NONE;
        };
        return recordSaving(out, name, saved, g -> binaryGrad(op, a, b, y, g), a, b);
    }

    static Strided broadcastView(Tensor t, long[] shape) {
        return t.view().withLayout(shape, Shape.broadcastStrides(t.shape, t.strides, shape));
    }

    private static Tensor[] binaryGrad(BinaryOp op, Tensor a, Tensor b, Tensor y, Tensor g) {
        Tensor ga = null, gb = null;
        boolean needA = a.requiresGrad, needB = b.requiresGrad;
        switch (op) {
            case ADD -> { if (needA) ga = g; if (needB) gb = g; }
            case SUB -> { if (needA) ga = g; if (needB) gb = g.neg(); }
            case MUL -> { if (needA) ga = g.mul(b); if (needB) gb = g.mul(a); }
            case DIV -> { if (needA) ga = g.div(b); if (needB) gb = g.mul(y).div(b).neg(); }
            case POW -> {
                if (needA) ga = g.mul(b).mul(a.pow(b.sub(1)));
                if (needB) gb = g.mul(y).mul(a.log());
            }
            case MAX, MIN -> {
                // ties share the gradient equally, as torch.maximum does
                Tensor wa = op == BinaryOp.MAX ? a.gt(b) : a.lt(b);
                Tensor tie = a.eq(b).mul(0.5);
                Tensor share = wa.add(tie);
                if (needA) ga = g.mul(share);
                if (needB) gb = g.mul(share.rsub(1));
            }
            default -> throw new IllegalStateException("no gradient for " + op);
        }
        return new Tensor[]{ga == null ? null : Reductions.sumTo(ga, a.shape), gb == null ? null : Reductions.sumTo(gb, b.shape)};
    }

    static Tensor scalar(BinaryOp op, Tensor x, double s, boolean scalarFirst) {
        x.checkOpen();
        DType ct = computeType(x.dtype, x.backend());
        Tensor xc = castIfNeeded(x, ct);
        Tensor out = Tensor.empty(x.device, ct, x.shape);
        x.backend().binaryScalar(op, xc.view(), s, scalarFirst, out.view());
        closeTemp(xc, x);
        out = finish(out, x.dtype);
        if (op.isComparison()) return out;
        Tensor y = out;
        Tensor[] saved = switch (op) {
            case DIV -> scalarFirst ? new Tensor[]{x, y} : NONE;
            case POW -> scalarFirst ? new Tensor[]{y} : new Tensor[]{x};
            case MAX, MIN -> new Tensor[]{x};
            default -> NONE;
        };
        return recordSaving(out, op.name().toLowerCase() + "_scalar", saved, g -> new Tensor[]{scalarGrad(op, x, s, scalarFirst, y, g)}, x);
    }

    private static Tensor scalarGrad(BinaryOp op, Tensor x, double s, boolean scalarFirst, Tensor y, Tensor g) {
        return switch (op) {
            case ADD -> g;
            case SUB -> scalarFirst ? g.neg() : g;
            case MUL -> g.mul(s);
            case DIV -> scalarFirst ? g.mul(y).div(x).neg() : g.div(s);
            case POW -> scalarFirst ? g.mul(y).mul(Math.log(s)) : g.mul(x.pow(s - 1)).mul(s);
            case MAX, MIN -> {
                Tensor win = op == BinaryOp.MAX ? x.gt(s) : x.lt(s);
                yield g.mul(win.add(x.eq(s).mul(0.5)));
            }
            default -> throw new IllegalStateException("no gradient for " + op);
        };
    }

    static Tensor where(Tensor cond, Tensor a, Tensor b) {
        sameDevice("where", cond, a);
        sameDevice("where", a, b);
        DType t = DType.promote(a.dtype, b.dtype);
        long[] shape = Shape.broadcast(Shape.broadcast(cond.shape, a.shape, "where"), b.shape, "where");
        DType ct = computeType(t, a.backend());
        Tensor ac = castIfNeeded(a, ct), bc = castIfNeeded(b, ct);
        Tensor cc = cond.dtype.isHalf() ? castIfNeeded(cond, DType.F32) : cond;
        Tensor out = Tensor.empty(a.device, ct, shape);
        a.backend().where(broadcastView(cc, shape), broadcastView(ac, shape), broadcastView(bc, shape), out.view());
        closeTemp(ac, a);
        closeTemp(bc, b);
        closeTemp(cc, cond);
        out = finish(out, t);
        return recordSaving(out, "where", new Tensor[]{cond}, g -> {
            Tensor zero = Tensor.zeros(g.device, g.dtype);
            Tensor ga = a.requiresGrad ? Reductions.sumTo(where(cond, g, zero), a.shape) : null;
            Tensor gb = b.requiresGrad ? Reductions.sumTo(where(cond, zero, g), b.shape) : null;
            return new Tensor[]{null, ga, gb};
        }, cond, a, b);
    }

    static Tensor inPlace(BinaryOp op, Tensor self, Tensor o) {
        self.checkInPlace(op.name().toLowerCase() + "InPlace");
        sameDevice(op.name().toLowerCase(), self, o);
        Shape.broadcastStrides(o.shape, o.strides, self.shape); // validates
        if (self.dtype.isHalf() && !self.backend().supportsHalfCompute()) {
            try (Tensor r = binary(op, self.detach(), o.detach())) {
                return self.copyFrom(r);
            }
        }
        Tensor oc = castIfNeeded(o, self.dtype);
        self.backend().binary(op, self.view(), broadcastView(oc, self.shape), self.view());
        closeTemp(oc, o);
        return self;
    }
}
