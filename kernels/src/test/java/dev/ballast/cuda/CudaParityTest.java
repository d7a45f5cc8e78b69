package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.assertClose;
import static dev.ballast.cuda.GpuBackends.download;
import static dev.ballast.cuda.GpuBackends.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every CUDA primitive against the CPU backend on fresh random inputs (never zeros). Tagged "gpu":
 * skipped with the reason when no GPU answers or no CPU backend is on the class path.
 */
@Tag("gpu")
class CudaParityTest {
    private final long seed = System.nanoTime();
    private final Random rnd = new Random(seed);

    @org.junit.jupiter.api.BeforeEach
    void printSeed(org.junit.jupiter.api.TestInfo info) {
        System.out.println("[gpu test] " + info.getDisplayName() + " seed " + seed);
    }
    private static final DType[] NUMERIC = {DType.F32, DType.F64, DType.I32, DType.I64};
    private static final DType[] ALL = DType.values();

    /** One input: dtype, host values, and the view to take of its storage. */
    record In(DType t, double[] data, Function<Storage, Strided> view) {}

    private static In contiguous(DType t, double[] data, long... shape) {
        return new In(t, data, s -> Strided.contiguous(s, t, 0, shape));
    }

    private double[] values(int n, DType t, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x = lo + (hi - lo) * rnd.nextDouble();
            v[i] = t.isFloating() ? x : Math.rint(x);
        }
        return v;
    }

    private static double[] run(Backend b, List<In> ins, DType outT, long[] outShape, BiConsumer<Strided[], Strided> op) {
        List<Storage> owned = new ArrayList<>();
        try {
            Strided[] views = new Strided[ins.size()];
            for (int i = 0; i < ins.size(); i++) {
                Storage s = upload(b, ins.get(i).t(), ins.get(i).data());
                owned.add(s);
                views[i] = ins.get(i).view().apply(s);
            }
            long n = 1;
            for (long d : outShape) n *= d;
            Storage o = b.allocate(n * outT.byteSize());
            owned.add(o);
            Strided out = Strided.contiguous(o, outT, 0, outShape);
            b.fill(out, 12345); // outputs must be written, not left over
            op.accept(views, out);
            return download(out);
        } finally {
            owned.forEach(Storage::release);
        }
    }

    private void compare(String what, List<In> ins, DType outT, long[] outShape, double rtol, double atol,
                         BiConsumer<Strided[], Strided> op) {
        Backend cuda = GpuBackends.cuda(), cpu = GpuBackends.cpu();
        double[] expected = run(cpu, ins, outT, outShape, op);
        double[] actual = run(cuda, ins, outT, outShape, op);
        assertClose(expected, actual, rtol, atol, what);
    }

    private static double rtol(DType t) { return t == DType.F32 ? 2e-6 : t == DType.F64 ? 1e-13 : 0; }

    // ---------------------------------------------------------------- data movement

    @Test
    void castEveryPairContiguousAndTransposed() {
        for (DType s : ALL) for (DType d : ALL) {
            double[] x = values(6 * 7, s, -100, 100);
            BiConsumer<Strided[], Strided> copy = (in, out) -> in[0].storage().backend().copy(in[0], out);
            compare("cast " + s + "->" + d, List.of(contiguous(s, x, 6, 7)), d, new long[] {6, 7}, 0, 0, copy);
            In transposed = new In(s, x, st -> new Strided(st, s, 0, new long[] {7, 6}, new long[] {1, 7}));
            compare("cast transposed " + s + "->" + d, List.of(transposed), d, new long[] {7, 6}, 0, 0, copy);
        }
    }

    @Test
    void fillEveryDtype() {
        for (DType t : ALL) for (double v : new double[] {0, 3.7, -1e3, 0.1}) {
            compare("fill " + t + " " + v, List.of(), t, new long[] {1031}, 0, 0,
                    (in, out) -> out.storage().backend().fill(out, v));
        }
    }

    @Test
    void randomMatchesCpuAndTheReferenceStream() {
        for (RandomKind k : RandomKind.values()) for (DType t : new DType[] {DType.F32, DType.F64}) for (long offset : new long[] {0, 3, 1L << 33}) {
            long seed = rnd.nextLong();
            double[] gpu = run(GpuBackends.cuda(), List.of(), t, new long[] {1001}, (in, out) -> out.storage().backend().random(k, seed, offset, out));
            for (int i = 0; i < gpu.length; i++) {
                float ref = k == RandomKind.UNIFORM ? PhiloxReference.uniform(seed, offset + i) : PhiloxReference.normal(seed, offset + i);
                double tol = k == RandomKind.UNIFORM ? 0 : Math.ulp(ref);
                assertEquals(ref, gpu[i], tol, k + " " + t + " seed " + seed + " offset " + offset + " element " + i);
            }
            compare("random " + k + " " + t, List.of(), t, new long[] {1001}, 0, k == RandomKind.UNIFORM ? 0 : 1e-6,
                    (in, out) -> out.storage().backend().random(k, seed, offset, out));
        }
    }

    // ---------------------------------------------------------------- elementwise

    @Test
    void unaryEveryOp() {
        for (UnaryOp op : UnaryOp.values()) for (DType t : new DType[] {DType.F32, DType.F64}) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
            double[] x = values(8 * 33, t, positive ? 0.01 : -5, 5);
            x[3] = Double.NaN;
            x[4] = Double.POSITIVE_INFINITY;
            BiConsumer<Strided[], Strided> f = (in, out) -> out.storage().backend().unary(op, in[0], out);
            compare("unary " + op + " " + t, List.of(contiguous(t, x, 8, 33)), t, new long[] {8, 33}, 4 * rtol(t), 1e-7, f);
            In tr = new In(t, x, s -> new Strided(s, t, 0, new long[] {33, 8}, new long[] {1, 33}));
            compare("unary strided " + op + " " + t, List.of(tr), t, new long[] {33, 8}, 4 * rtol(t), 1e-7, f);
        }
        for (UnaryOp op : UnaryOp.values()) for (DType t : new DType[] {DType.I32, DType.I64}) {
            BiConsumer<Strided[], Strided> f = (in, out) -> out.storage().backend().unary(op, in[0], out);
            double[] x = values(1000, t, -1000, 1000);
            if (op.definedForIntegers()) {
                compare("unary " + op + " " + t, List.of(contiguous(t, x, 1000)), t, new long[] {1000}, 0, 0, f);
                In tr = new In(t, x, s -> new Strided(s, t, 0, new long[] {40, 25}, new long[] {1, 40}));
                compare("unary strided " + op + " " + t, List.of(tr), t, new long[] {40, 25}, 0, 0, f);
            } else {
                // Both backends refuse a floating function on integers, with the same message.
                var onCpu = assertThrows(UnsupportedOperationException.class,
                        () -> run(GpuBackends.cpu(), List.of(contiguous(t, x, 1000)), t, new long[] {1000}, f));
                var onCuda = assertThrows(UnsupportedOperationException.class,
                        () -> run(GpuBackends.cuda(), List.of(contiguous(t, x, 1000)), t, new long[] {1000}, f));
                assertEquals(onCpu.getMessage(), onCuda.getMessage(), "unary " + op + " " + t);
            }
        }
    }

    @Test
    void binaryEveryOpWithBroadcastAndScalars() {
        for (BinaryOp op : BinaryOp.values()) for (DType t : NUMERIC) {
            boolean pow = op == BinaryOp.POW;
            double lo = pow ? 0.1 : -50, hi = pow ? 3 : 50;
            double[] a = values(3 * 5, t, lo, hi), b = values(4 * 5, t, lo, hi);
            if (op == BinaryOp.DIV && !t.isFloating()) for (int i = 0; i < b.length; i++) if (b[i] == 0) b[i] = 7;
            if (t.isFloating() && !pow) a[2] = Double.NaN;
            if (op.isComparison()) System.arraycopy(b, 0, a, 0, 5); // some equal pairs
            // a: [3,1,5] broadcast to [3,4,5]; b: [1,4,5] broadcast
            In ia = new In(t, a, s -> new Strided(s, t, 0, new long[] {3, 4, 5}, new long[] {5, 0, 1}));
            In ib = new In(t, b, s -> new Strided(s, t, 0, new long[] {3, 4, 5}, new long[] {0, 5, 1}));
            double rt = 4 * rtol(t);
            compare("binary " + op + " " + t, List.of(ia, ib), t, new long[] {3, 4, 5}, rt, 0,
                    (in, out) -> out.storage().backend().binary(op, in[0], in[1], out));
            double[] c = values(60, t, lo, hi), d = values(60, t, lo, hi);
            if (op == BinaryOp.DIV && !t.isFloating()) for (int i = 0; i < d.length; i++) if (d[i] == 0) d[i] = -3;
            // the scalar-first form divides the scalar by c: no zero there either (the CPU refuses it, the GPU cannot)
            if (op == BinaryOp.DIV && !t.isFloating()) for (int i = 0; i < c.length; i++) if (c[i] == 0) c[i] = 5;
            compare("binary contiguous " + op + " " + t, List.of(contiguous(t, c, 60), contiguous(t, d, 60)), t, new long[] {60}, rt, 0,
                    (in, out) -> out.storage().backend().binary(op, in[0], in[1], out));
            double s = t.isFloating() ? (pow ? 1.7 : -2.25) : 3;
            for (boolean first : new boolean[] {false, true}) {
                compare("binaryScalar " + op + " " + t + " first=" + first, List.of(contiguous(t, c, 60)), t, new long[] {60}, rt, 0,
                        (in, out) -> out.storage().backend().binaryScalar(op, in[0], s, first, out));
                In tr = new In(t, c, st -> new Strided(st, t, 0, new long[] {6, 10}, new long[] {1, 6})); // c as [10, 6], transposed
                compare("binaryScalar strided " + op + " " + t + " first=" + first, List.of(tr), t, new long[] {6, 10}, rt, 0,
                        (in, out) -> out.storage().backend().binaryScalar(op, in[0], s, first, out));
            }
        }
    }

    @Test
    void whereWithBroadcastCondition() {
        for (DType c : NUMERIC) for (DType t : NUMERIC) {
            double[] cond = values(5, c, -1.4, 1.4), a = values(20, t, -9, 9), b = values(20, t, -9, 9);
            In ic = new In(c, cond, s -> new Strided(s, c, 0, new long[] {4, 5}, new long[] {0, 1}));
            compare("where " + c + " " + t, List.of(ic, contiguous(t, a, 4, 5), contiguous(t, b, 4, 5)), t, new long[] {4, 5}, 0, 0,
                    (in, out) -> out.storage().backend().where(in[0], in[1], in[2], out));
        }
    }

    // ---------------------------------------------------------------- reductions, softmax

    @Test
    void reduceEveryOpAndLayout() {
        int longRow = GpuBackends.sized("reduce row length", 5000, 1500);
        long[][] layouts = {{3, 1000, 1}, {2, 37, 5}, {1, longRow, 1}, {4, 1, 3}};
        for (ReduceOp op : ReduceOp.values()) for (DType t : NUMERIC) for (long[] l : layouts) {
            long outer = l[0], n = l[1], inner = l[2];
            double[] x = values((int) (outer * n * inner), t, t.isFloating() ? -1 : -20, t.isFloating() ? 1 : 20); // ints: many ties
            boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
            DType outT = arg ? DType.I64 : t;
            double tol = op == ReduceOp.SUM && t.isFloating() ? (t == DType.F32 ? 1e-4 : 1e-11) : 0;
            compare("reduce " + op + " " + t + " " + java.util.Arrays.toString(l), List.of(contiguous(t, x, outer * n * inner)),
                    outT, new long[] {outer * inner}, 0, tol,
                    (in, out) -> out.storage().backend().reduce(op, in[0], outer, n, inner, out));
        }
    }

    @Test
    void reducePropagatesNaN() {
        double[] x = values(300, DType.F32, -1, 1);
        x[77] = Double.NaN;
        for (ReduceOp op : ReduceOp.values()) {
            DType outT = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN ? DType.I64 : DType.F32;
            compare("reduce NaN " + op, List.of(contiguous(DType.F32, x, 300)), outT, new long[] {3}, 0, 1e-5,
                    (in, out) -> out.storage().backend().reduce(op, in[0], 3, 100, 1, out));
        }
    }

    @Test
    void softmaxAndLogSoftmax() {
        long longRow = GpuBackends.sized("softmax row length", 5000, 1500);
        for (DType t : new DType[] {DType.F32, DType.F64}) for (long n : new long[] {1, 33, 1000, longRow}) for (boolean log : new boolean[] {false, true}) {
            long rows = 7;
            double[] x = values((int) (rows * n), t, -20, 20);
            compare("softmax " + t + " n=" + n + " log=" + log, List.of(contiguous(t, x, rows, n)), t, new long[] {rows, n},
                    t == DType.F32 ? 1e-5 : 1e-12, t == DType.F32 ? 1e-7 : 1e-15,
                    (in, out) -> out.storage().backend().softmax(in[0], rows, n, log, out));
        }
    }

    // ---------------------------------------------------------------- indexing

    @Test
    void indexOps() {
        long outer = 3, n = 11, inner = 4, m = 17;
        for (DType t : NUMERIC) {
            double[] idx = new double[(int) m];
            for (int j = 0; j < m; j++) idx[j] = rnd.nextInt((int) n); // repeats guaranteed (m > n)
            double[] x = values((int) (outer * n * inner), t, -10, 10), src = values((int) (outer * m * inner), t, -10, 10);
            double[] base = values((int) (outer * n * inner), t, -10, 10);
            compare("indexSelect " + t, List.of(contiguous(t, x, outer * n * inner), contiguous(DType.I64, idx, m)), t,
                    new long[] {outer, m, inner}, 0, 0, (in, out) -> out.storage().backend().indexSelect(in[0], outer, n, inner, in[1], out));
            compare("indexAdd " + t, List.of(contiguous(t, src, outer * m * inner), contiguous(DType.I64, idx, m), contiguous(t, base, outer * n * inner)), t,
                    new long[] {outer, n, inner}, rtol(t), 0, (in, out) -> {
                        Backend b = out.storage().backend();
                        b.copy(in[2], out);
                        b.indexAdd(in[0], outer, m, inner, in[1], out, n);
                    });
            double[] gidx = new double[(int) (outer * m * inner)];
            for (int e = 0; e < gidx.length; e++) gidx[e] = rnd.nextInt((int) n);
            compare("gather " + t, List.of(contiguous(t, x, outer * n * inner), contiguous(DType.I64, gidx, gidx.length)), t,
                    new long[] {outer, m, inner}, 0, 0, (in, out) -> out.storage().backend().gather(in[0], outer, n, inner, in[1], m, out));
            compare("scatterAdd " + t, List.of(contiguous(t, src, src.length), contiguous(DType.I64, gidx, gidx.length), contiguous(t, base, base.length)), t,
                    new long[] {outer, n, inner}, rtol(t), 0, (in, out) -> {
                        Backend b = out.storage().backend();
                        b.copy(in[2], out);
                        b.scatterAdd(in[0], outer, m, inner, in[1], out, n);
                    });
        }
    }
}
