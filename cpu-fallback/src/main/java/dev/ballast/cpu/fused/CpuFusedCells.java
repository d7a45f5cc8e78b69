package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.RecurrentCells;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedCells;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;

/** The CPU backend's {@link FusedCells}: the {@link RecurrentCells} kernels on its pool. */
public final class CpuFusedCells implements FusedCells {
    private final Parallel par;

    public CpuFusedCells(Parallel par) { this.par = par; }

    /** A [B, n] operand (a 1-D bias is one row); null stays null. */
    private static RecurrentCells.Rows rows(Strided s) {
        if (s == null) return null;
        if (s.dtype() != DType.F32 && s.dtype() != DType.F64)
            throw new IllegalArgumentException("fused recurrent cells take f32 or f64 operands, got " + s.dtype());
        long[] st = s.strides();
        if (st[st.length - 1] != 1 && s.shape()[st.length - 1] > 1)
            throw new IllegalArgumentException("fused recurrent cells need a unit column stride, got " + s);
        if (!(s.storage() instanceof CpuStorage c))
            throw new IllegalArgumentException("storage belongs to the " + s.storage().backend().name() + " backend, not the CPU");
        return new RecurrentCells.Rows(c.segment(), s.offset(), st.length == 1 ? 0 : st[0], s.dtype() == DType.F64);
    }

    private static int rows0(Strided s) { return Math.toIntExact(s.shape()[0]); }

    private static int cols(Strided s) { return Math.toIntExact(s.shape()[s.rank() - 1]); }

    @Override public void lstmCellForward(Strided xw, Strided hw, Strided bias, Strided cPrev, Strided gates, Strided h, Strided c) {
        try {
            RecurrentCells.lstmForward(par, rows0(h), cols(h), rows(xw), rows(hw), rows(bias), rows(cPrev), rows(gates), rows(h), rows(c));
        } finally {
            Reference.reachabilityFence(xw);
            Reference.reachabilityFence(hw);
            Reference.reachabilityFence(bias);
            Reference.reachabilityFence(cPrev);
            Reference.reachabilityFence(gates);
            Reference.reachabilityFence(h);
            Reference.reachabilityFence(c);
        }
    }

    @Override public void lstmCellBackward(Strided gates, Strided cPrev, Strided c, Strided dhOut, Strided dhNext, Strided dcOut,
                                           Strided dc, Strided dPre) {
        try {
            RecurrentCells.lstmBackward(par, rows0(c), cols(c), rows(gates), rows(cPrev), rows(c), rows(dhOut), rows(dhNext),
                    rows(dcOut), rows(dc), rows(dPre));
        } finally {
            Reference.reachabilityFence(gates);
            Reference.reachabilityFence(cPrev);
            Reference.reachabilityFence(c);
            Reference.reachabilityFence(dhOut);
            Reference.reachabilityFence(dhNext);
            Reference.reachabilityFence(dcOut);
            Reference.reachabilityFence(dc);
            Reference.reachabilityFence(dPre);
        }
    }

    @Override public void rnnCellForward(Strided xw, Strided hw, Strided bias, Strided h) {
        try {
            RecurrentCells.rnnForward(par, rows0(h), cols(h), rows(xw), rows(hw), rows(bias), rows(h));
        } finally {
            Reference.reachabilityFence(xw);
            Reference.reachabilityFence(hw);
            Reference.reachabilityFence(bias);
            Reference.reachabilityFence(h);
        }
    }

    @Override public void rnnCellBackward(Strided h, Strided dhOut, Strided dhNext, Strided dPre) {
        try {
            RecurrentCells.rnnBackward(par, rows0(h), cols(h), rows(h), rows(dhOut), rows(dhNext), rows(dPre));
        } finally {
            Reference.reachabilityFence(h);
            Reference.reachabilityFence(dhOut);
            Reference.reachabilityFence(dhNext);
            Reference.reachabilityFence(dPre);
        }
    }
}
