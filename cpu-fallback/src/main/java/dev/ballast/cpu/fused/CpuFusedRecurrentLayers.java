package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.LstmBackwardF32;
import dev.ballast.cpu.kernel.LstmForwardF32;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.RecurrentCells;
import dev.ballast.cpu.kernel.RecurrentCells.Rows;
import dev.ballast.cpu.kernel.StepRows;
import dev.ballast.cpu.matmul.CpuMatmul;
import dev.ballast.cpu.matmul.PackedF32;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedRecurrentLayers;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;

/**
 * The CPU backend's {@link FusedRecurrentLayers}. The recurrent weight is packed once per call (F32: into the matrix
 * kernel's column panels, {@link PackedF32}; F64 takes the plain product), and the batch is cut into one group of
 * rows per pool thread, each running the whole time loop for its rows: a row's recurrence never reads another row,
 * so the threads meet once per layer instead of twice per time step, and no step re-packs the weight. Each group's
 * product and cell kernels are the same as the step-by-step path's ({@link CpuFusedCells} after one matmul), so the
 * bits do not change, nor do they depend on the thread count.
 *
 * <p>F32 LSTM layers whose hidden size is a multiple of the vector length take {@link LstmForwardF32} and
 * {@link LstmBackwardF32}: each step's product tile is followed by the cell math of exactly its columns while the tile
 * is in cache (the same operations in the same order, so the same bits), on heap copies of the step's rows.
 */
public final class CpuFusedRecurrentLayers implements FusedRecurrentLayers {
    /** Rows per group come in multiples of the matrix kernel's row strip. */
    private static final int ROW_BLOCK = PackedF32.ROWS;
    /** The cell kernels run on the group's thread. */
    private static final Parallel SERIAL = new Parallel(null, 1);

    private final Parallel par;

    public CpuFusedRecurrentLayers(Parallel par) { this.par = par; }

    @Override public boolean serves(DType dtype) { return dtype == DType.F32 || dtype == DType.F64; }

    /** An operand as segment, element offset and strides; a {@code [B, T, n]} sequence or a {@code [B, n]} state. */
    private record Operand(java.lang.foreign.MemorySegment seg, long off, long[] st, boolean f64) {
        static Operand of(String name, Strided s, DType dtype) {
            if (s == null) return null;
            if (s.dtype() != dtype)
                throw new IllegalArgumentException("fused recurrent layer: " + name + " is " + s.dtype() + ", expected " + dtype);
            if (!(s.storage() instanceof CpuStorage c))
                throw new IllegalArgumentException("fused recurrent layer: " + name + "'s storage belongs to the "
                        + s.storage().backend().name() + " backend, not the CPU");
            return new Operand(c.segment(), s.offset(), s.strides(), dtype == DType.F64);
        }

        /** Rows from {@code r0} of step {@code s} of a sequence. */
        Rows step(long r0, long s) { return new Rows(seg, off + r0 * st[0] + s * st[1], st[0], f64); }

        /** Rows from {@code r0} of a sequence, a state (step stride 0) or a 1-D bias (its one row, repeated), for the fused F32 loops. */
        StepRows from(long r0) {
            return switch (st.length) {
                case 1 -> new StepRows(seg, off, 0, 0);
                case 2 -> new StepRows(seg, off + r0 * st[0], st[0], 0);
                default -> new StepRows(seg, off + r0 * st[0], st[0], st[1]);
            };
        }

        /** Rows from {@code r0} of a state (a 1-D bias: its one row, repeated). */
        Rows rows(long r0) { return new Rows(seg, off + (st.length == 1 ? 0 : r0 * st[0]), st.length == 1 ? 0 : st[0], f64); }
    }

    private static Rows shift(Rows r, long cols) { return new Rows(r.seg(), r.offset() + cols, r.rowStride(), r.f64()); }

    /** {@code c = a B} for {@code m} rows, B fixed for the call. */
    private interface Product { void apply(int m, Rows a, Rows c); }

    /** B ({@code k x n}) given as a weight view with strides {@code rs, cs}. */
    private static Product product(Operand w, long rs, long cs, int k, int n) {
        if (!w.f64()) {
            PackedF32 packed = PackedF32.pack(w.seg(), w.off(), rs, cs, k, n);
            return (m, a, c) -> packed.multiply(m, a.seg(), a.offset(), a.rowStride(), c.seg(), c.offset(), c.rowStride());
        }
        return (m, a, c) -> CpuMatmul.gemmF64(1, m, n, k, a.seg(), a.offset(), 0, a.rowStride(), 1,
                w.seg(), w.off(), 0, rs, cs, c.seg(), c.offset(), 0, c.rowStride(), null);
    }

    /** {@code h W^T}: B[p, j] = W[j, p]. */
    private static Product timesTransposed(Operand w, int hidden, int gates) { return product(w, w.st()[1], w.st()[0], hidden, gates); }

    /** {@code d W}: B = W. */
    private static Product times(Operand w, int hidden, int gates) { return product(w, w.st()[0], w.st()[1], gates, hidden); }

    private interface Group { void run(int r0, int m); }

    /** Splits {@code batch} rows into one group per thread (whole strips of {@link #ROW_BLOCK} rows each) and runs them. */
    private void byRowGroups(int batch, Group body) { byRowGroups(batch, ROW_BLOCK, body); }

    /** Splits {@code batch} rows into one group per thread (whole strips of {@code block} rows each) and runs them. */
    private void byRowGroups(int batch, int block, Group body) {
        int strips = (batch + block - 1) / block;
        int groups = Math.max(1, Math.min(par.threads(), strips));
        par.forEach(groups, g -> {
            int r0 = (int) (g * strips / groups) * block;
            int r1 = Math.min(batch, (int) ((g + 1) * strips / groups) * block);
            if (r1 > r0) body.run(r0, r1 - r0);
        });
    }

    private static void zero(Rows r, int m, int n) {
        long bytes = r.f64() ? 8 : 4;
        for (int i = 0; i < m; i++) r.seg().asSlice(bytes * (r.offset() + i * r.rowStride()), bytes * n).fill((byte) 0);
    }

    private static int dim(Strided s, int d) { return Math.toIntExact(s.shape()[d]); }

    private static void checkColumns(String name, Strided s) {
        if (s == null) return;
        int last = s.rank() - 1;
        if (s.strides()[last] != 1 && s.shape()[last] > 1)
            throw new IllegalArgumentException("fused recurrent layer: " + name + " needs a unit column stride, got " + s);
    }

    @Override public void lstmForward(Strided xw, Strided wHh, Strided bias, Strided h0, Strided c0, Strided gates, Strided out,
                                      Strided work) {
        try {
            DType dt = xw.dtype();
            int batch = dim(xw, 0), time = dim(xw, 1), hidden = dim(wHh, 1);
            for (Strided s : new Strided[]{xw, bias, h0, c0, gates, out, work}) checkColumns("operand", s);
            Operand x = Operand.of("xw", xw, dt), w = Operand.of("w_hh", wHh, dt), b = Operand.of("b_hh", bias, dt);
            Operand h = Operand.of("h0", h0, dt), c = Operand.of("c0", c0, dt), g = Operand.of("gates", gates, dt);
            Operand o = Operand.of("out", out, dt), hw = Operand.of("work", work, dt);
            if (batch == 0 || time == 0) return;
            if (!x.f64() && LstmForwardF32.serves(hidden)) {
                float[] packed = LstmForwardF32.pack(w.seg(), w.off(), w.st()[0], w.st()[1], hidden);
                byRowGroups(batch, LstmForwardF32.RB, (r0, m) -> LstmForwardF32.run(m, hidden, time, packed, x.from(r0),
                        b == null ? null : b.from(0), h.from(r0), c.from(r0), g.from(r0), o.from(r0)));
                return;
            }
            Product p = timesTransposed(w, hidden, 4 * hidden);
            byRowGroups(batch, (r0, m) -> {
                Rows acc = hw.rows(r0), bRow = b == null ? null : b.rows(0);
                for (int s = 0; s < time; s++) {
                    Rows hPrev = s == 0 ? h.rows(r0) : o.step(r0, s - 1);
                    Rows cPrev = s == 0 ? c.rows(r0) : shift(o.step(r0, s - 1), hidden);
                    p.apply(m, hPrev, acc);
                    Rows now = o.step(r0, s);
                    RecurrentCells.lstmForward(SERIAL, m, hidden, x.step(r0, s), acc, bRow, cPrev, g.step(r0, s), now,
                            shift(now, hidden));
                }
            });
        } finally {
            Reference.reachabilityFence(new Object[]{xw, wHh, bias, h0, c0, gates, out, work});
        }
    }

    @Override public void lstmBackward(Strided wHh, Strided gates, Strided out, Strided h0, Strided c0, Strided gOut, Strided dPre,
                                       Strided dc0, Strided dh0, Strided work) {
        try {
            DType dt = gates.dtype();
            int batch = dim(gates, 0), time = dim(gates, 1), hidden = dim(wHh, 1);
            for (Strided s : new Strided[]{gates, out, c0, gOut, dPre, dc0, dh0, work}) checkColumns("operand", s);
            Operand w = Operand.of("w_hh", wHh, dt), g = Operand.of("gates", gates, dt), o = Operand.of("out", out, dt);
            Operand c = Operand.of("c0", c0, dt), go = Operand.of("grad", gOut, dt), dp = Operand.of("dPre", dPre, dt);
            Operand dc = Operand.of("dc0", dc0, dt), dh = Operand.of("dh0", dh0, dt), next = Operand.of("work", work, dt);
            if (!w.f64() && time > 0 && LstmForwardF32.serves(hidden)) {
                float[] packed = LstmBackwardF32.pack(w.seg(), w.off(), w.st()[0], w.st()[1], hidden);
                byRowGroups(batch, LstmBackwardF32.RB, (r0, m) -> LstmBackwardF32.run(m, hidden, time, packed, g.from(r0), o.from(r0),
                        c.from(r0), go.from(r0), dp.from(r0), dc.from(r0), dh == null ? null : dh.from(r0)));
                return;
            }
            Product p = times(w, hidden, 4 * hidden);
            byRowGroups(batch, (r0, m) -> {
                Rows dcRows = dc.rows(r0), dhNext = next.rows(r0);
                zero(dcRows, m, hidden);
                if (time == 0 && dh != null) zero(dh.rows(r0), m, hidden);
                for (int s = time - 1; s >= 0; s--) {
                    Rows now = o.step(r0, s), gs = go.step(r0, s), d = dp.step(r0, s);
                    Rows cPrev = s == 0 ? c.rows(r0) : shift(o.step(r0, s - 1), hidden);
                    RecurrentCells.lstmBackward(SERIAL, m, hidden, g.step(r0, s), cPrev, shift(now, hidden), gs,
                            s == time - 1 ? null : dhNext, shift(gs, hidden), dcRows, d);
                    if (s > 0) p.apply(m, d, dhNext);
                    else if (dh != null) p.apply(m, d, dh.rows(r0));
                }
            });
        } finally {
            Reference.reachabilityFence(new Object[]{wHh, gates, out, h0, c0, gOut, dPre, dc0, dh0, work});
        }
    }

    @Override public void rnnForward(Strided xw, Strided wHh, Strided bias, Strided h0, Strided out, Strided work) {
        try {
            DType dt = xw.dtype();
            int batch = dim(xw, 0), time = dim(xw, 1), hidden = dim(wHh, 1);
            for (Strided s : new Strided[]{xw, bias, h0, out, work}) checkColumns("operand", s);
            Operand x = Operand.of("xw", xw, dt), w = Operand.of("w_hh", wHh, dt), b = Operand.of("b_hh", bias, dt);
            Operand h = Operand.of("h0", h0, dt), o = Operand.of("out", out, dt), hw = Operand.of("work", work, dt);
            if (batch == 0 || time == 0) return;
            Product p = timesTransposed(w, hidden, hidden);
            byRowGroups(batch, (r0, m) -> {
                Rows acc = hw.rows(r0), bRow = b == null ? null : b.rows(0);
                for (int s = 0; s < time; s++) {
                    p.apply(m, s == 0 ? h.rows(r0) : o.step(r0, s - 1), acc);
                    RecurrentCells.rnnForward(SERIAL, m, hidden, x.step(r0, s), acc, bRow, o.step(r0, s));
                }
            });
        } finally {
            Reference.reachabilityFence(new Object[]{xw, wHh, bias, h0, out, work});
        }
    }

    @Override public void rnnBackward(Strided wHh, Strided out, Strided h0, Strided gOut, Strided dPre, Strided dh0, Strided work) {
        try {
            DType dt = out.dtype();
            int batch = dim(out, 0), time = dim(out, 1), hidden = dim(wHh, 1);
            for (Strided s : new Strided[]{out, gOut, dPre, dh0, work}) checkColumns("operand", s);
            Operand w = Operand.of("w_hh", wHh, dt), o = Operand.of("out", out, dt), go = Operand.of("grad", gOut, dt);
            Operand dp = Operand.of("dPre", dPre, dt), dh = Operand.of("dh0", dh0, dt), next = Operand.of("work", work, dt);
            Product p = times(w, hidden, hidden);
            byRowGroups(batch, (r0, m) -> {
                Rows dhNext = next.rows(r0);
                if (time == 0 && dh != null) zero(dh.rows(r0), m, hidden);
                for (int s = time - 1; s >= 0; s--) {
                    Rows d = dp.step(r0, s);
                    RecurrentCells.rnnBackward(SERIAL, m, hidden, o.step(r0, s), go.step(r0, s), s == time - 1 ? null : dhNext, d);
                    if (s > 0) p.apply(m, d, dhNext);
                    else if (dh != null) p.apply(m, d, dh.rows(r0));
                }
            });
        } finally {
            Reference.reachabilityFence(new Object[]{wHh, out, h0, gOut, dPre, dh0, work});
        }
    }
}
