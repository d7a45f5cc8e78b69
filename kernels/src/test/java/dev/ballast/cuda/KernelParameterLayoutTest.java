package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ballast.cuda.LaunchArgs.Kind;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps.AdamParams;
import dev.ballast.engine.backend.MultiTensorOps.SgdParams;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code extern "C" __global__} kernel's parameter list, read from the {@code .cu} sources
 * ({@link KernelSignatures}), against the argument packing the Java side really does for it: the CUDA primitives
 * ({@link CudaElementwise}, {@link CudaReductions}, {@link CudaMultiTensor}) run on a recording {@link KernelHost}
 * without a device, once per dtype and layout variant, and each launch's {@link LaunchArgs} kinds (class, size and
 * alignment of every argument, in order) must equal the kernel's C parameter types. A real driver checks none of
 * this: a wrong packing reads garbage on a GPU. One generated test per kernel; a kernel no primitive launches, or a
 * launch of a kernel no source defines, fails too.
 */
class KernelParameterLayoutTest {
    private static List<KernelSignatures.Kernel> kernels;
    private static Map<String, List<Kind>> packed; // kernel name -> the packing of its (first) launch
    private static Map<String, String> packedFile;
    private static Map<String, String> conflicts; // a kernel packed two different ways by two call sites

    @BeforeAll
    static void launchEveryPrimitive() {
        kernels = KernelSignatures.all();
        Recorder r = new Recorder();
        r.drive();
        packed = new LinkedHashMap<>();
        packedFile = new LinkedHashMap<>();
        conflicts = new LinkedHashMap<>();
        for (Recorder.Launch l : r.launches) {
            List<Kind> before = packed.putIfAbsent(l.kernel(), l.kinds());
            packedFile.putIfAbsent(l.kernel(), l.file());
            if (before != null && !before.equals(l.kinds()))
                conflicts.put(l.kernel(), "packed two ways: " + before + " and " + l.kinds());
        }
    }

    @TestFactory
    Stream<DynamicTest> everyKernelIsLaunchedWithItsParameterLayout() {
        assertTrue(kernels.size() > 100, "expected every kernel of " + KernelSources.FILES + ", parsed " + kernels.size());
        return kernels.stream().map(k -> DynamicTest.dynamicTest(k.file() + " " + k.name(), () -> {
            List<Kind> java = packed.get(k.name());
            if (java == null)
                fail("kernel " + k.name() + " (" + k.file() + ") is never launched by the CUDA primitives: a dead kernel, or a"
                        + " launch path this test does not drive (add it to Recorder.drive)");
            assertEquals(k.file(), packedFile.get(k.name()), "kernel " + k.name() + " is launched from the wrong module");
            if (conflicts.containsKey(k.name())) fail("kernel " + k.name() + ": " + conflicts.get(k.name()));
            mismatch(k, java).ifPresent(m -> fail(m));
        }));
    }

    @Test
    void everyLaunchedKernelIsDefinedInTheSources() {
        Set<String> defined = new LinkedHashSet<>();
        for (KernelSignatures.Kernel k : kernels) assertTrue(defined.add(k.name()), "kernel " + k.name() + " is defined twice");
        Set<String> unknown = new TreeSet<>(packed.keySet());
        unknown.removeAll(defined);
        assertTrue(unknown.isEmpty(), "the CUDA primitives launch kernels no .cu file defines: " + unknown);
    }

    /** The check itself must fail on a wrong packing: wrong type, wrong size, missing or extra argument, wrong order. */
    @Test
    void aWrongPackingIsReportedWithTheKernelAndTheArgument() {
        KernelSignatures.Kernel k = kernels.stream().filter(x -> x.name().equals("binary_scalar_contig_f32")).findFirst().orElseThrow();
        List<Kind> right = List.of(Kind.PTR, Kind.PTR, Kind.I64, Kind.I32, Kind.F64, Kind.I32);
        assertEquals(Optional.empty(), mismatch(k, right));
        assertEquals(right, packed.get(k.name()), "the recorded packing of " + k.name());

        String wrongSize = mismatch(k, List.of(Kind.PTR, Kind.PTR, Kind.I64, Kind.I64, Kind.F64, Kind.I32)).orElseThrow();
        assertTrue(wrongSize.contains("binary_scalar_contig_f32") && wrongSize.contains("argument 4 (int op)")
                && wrongSize.contains("64-bit integer (8 bytes)"), wrongSize);
        String floatForInt = mismatch(k, List.of(Kind.PTR, Kind.PTR, Kind.I64, Kind.F32, Kind.F64, Kind.I32)).orElseThrow();
        assertTrue(floatForInt.contains("argument 4 (int op)") && floatForInt.contains("float (4 bytes)"), floatForInt);
        String swapped = mismatch(k, List.of(Kind.PTR, Kind.PTR, Kind.I64, Kind.F64, Kind.I32, Kind.I32)).orElseThrow();
        assertTrue(swapped.contains("argument 4"), swapped);
        String missing = mismatch(k, right.subList(0, 5)).orElseThrow();
        assertTrue(missing.contains("takes 6 parameters") && missing.contains("packs 5"), missing);
        List<Kind> extra = new ArrayList<>(right);
        extra.add(Kind.ND);
        String tooMany = mismatch(k, extra).orElseThrow();
        assertTrue(tooMany.contains("packs 7"), tooMany);
    }

    /**
     * The reader of the sources: macros with pasting, nested instantiation and typedefs give concrete kernels; a macro
     * parameter named C leaves {@code extern "C"} alone.
     */
    @Test
    void theSourceReaderExpandsMacrosAndTypedefs() {
        String src = """
                typedef long long i64;
                typedef __half f16;
                #define PAIR(C, SS, D, DS) \\
                extern "C" __global__ void cast_##SS##_##DS(const C* x, D* out, i64 n, NdArgs nd) { }
                #define ALL(S, SS) PAIR(S, SS, float, f32) PAIR(S, SS, f16, f16)
                ALL(double, f64) // two kernels
                /* extern "C" __global__ void commented_out(int a) */
                extern "C" __global__ void plain(unsigned short v, const void* p, int k) { }
                """;
        var ks = KernelSignatures.parse("t.cu", src, Map.of());
        assertEquals(List.of("cast_f64_f32", "cast_f64_f16", "plain"), ks.stream().map(KernelSignatures.Kernel::name).toList());
        assertEquals("const double*", ks.get(0).params().get(0).type());
        assertEquals("f16*", ks.get(1).params().get(1).type());
        assertEquals(List.of(Kind.PTR, Kind.PTR, Kind.I64, Kind.ND), kinds(ks.get(0)));
        assertEquals(List.of(Kind.U16, Kind.PTR, Kind.I32), kinds(ks.get(2)));
        assertFalse(KernelSignatures.kindOf("struct Foo", Map.of()).isPresent(), "an unknown by-value type has no packing");
    }

    private static List<Kind> kinds(KernelSignatures.Kernel k) {
        return k.params().stream().map(p -> p.kind().orElseThrow()).toList();
    }

    /** What is wrong with packing {@code java} for kernel {@code k}, naming both; empty when it matches. */
    static Optional<String> mismatch(KernelSignatures.Kernel k, List<Kind> java) {
        List<KernelSignatures.Param> c = k.params();
        for (int i = 0; i < Math.min(c.size(), java.size()); i++) {
            KernelSignatures.Param p = c.get(i);
            if (p.kind().isEmpty())
                return Optional.of("kernel " + k.name() + " (" + k.file() + "): argument " + (i + 1) + " (" + p + ") has a C type this"
                        + " check cannot size; teach KernelSignatures.kindOf its packing");
            if (p.kind().get() != java.get(i))
                return Optional.of("kernel " + k.name() + " (" + k.file() + "): argument " + (i + 1) + " (" + p + ") is a "
                        + p.kind().get() + " in C, but the Java launcher packs a " + java.get(i) + "\n  C:    " + c + "\n  Java: " + java);
        }
        if (c.size() != java.size())
            return Optional.of("kernel " + k.name() + " (" + k.file() + ") takes " + c.size() + " parameters but the Java launcher packs "
                    + java.size() + "\n  C:    " + c + "\n  Java: " + java);
        return Optional.empty();
    }

    /**
     * A {@link KernelHost} with no device: addresses are made up (never dereferenced), memory operations do nothing,
     * and every launch is recorded with the kinds of its arguments.
     */
    static final class Recorder implements KernelHost {
        record Launch(String file, String kernel, List<Kind> kinds) {}

        /** Device memory that is only an address range. */
        record FakeStorage(long byteSize) implements Storage {
            @Override public Backend backend() { return null; }
            @Override public void retain() {}
            @Override public void release() {}
            @Override public boolean isFreed() { return false; }
        }

        final List<Launch> launches = new ArrayList<>();
        private final Map<Storage, Long> addresses = new IdentityHashMap<>();
        private long next = 0x7f00_0000_0000L;
        private final CudaElementwise elementwise = new CudaElementwise(this);
        private final CudaReductions reductions = new CudaReductions(this, elementwise);
        private final CudaMultiTensor fused = new CudaMultiTensor(this);

        @Override public long storagePtr(Storage s) {
            return addresses.computeIfAbsent(s, k -> {
                long a = next;
                next += (k.byteSize() + 255) / 256 * 256 + 256;
                return a;
            });
        }
        @Override public long pointer(Strided s) { return storagePtr(s.storage()) + s.offset() * s.dtype().byteSize(); }
        @Override public void bind() {}
        @Override public int multiprocessors() { return 132; }
        @Override public void launch(String file, String kernel, long work, LaunchArgs a) { record(file, kernel, a); }
        @Override public void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a) { record(file, kernel, a); }
        @Override public void launchBlocks(String file, String kernel, long rows, LaunchArgs a) { record(file, kernel, a); }
        @Override public void copyDeviceToDevice(long dst, long src, long bytes) {}
        @Override public void zero(long dst, long bytes) {}
        @Override public Storage allocate(long bytes) { return new FakeStorage(bytes); }
        @Override public void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {}
        @Override public void fill(Strided dst, double value) { elementwise.fill(dst, value); }
        @Override public void refuseDuringCapture(String what, String instead) {}
        @Override public void retainForCapture(Storage... storages) {}

        private void record(String file, String kernel, LaunchArgs a) { launches.add(new Launch(file, kernel, a.kinds())); }

        static Strided tensor(DType t, long... shape) {
            long n = 1;
            for (long d : shape) n *= d;
            return Strided.contiguous(new FakeStorage(Math.max(n, 1) * t.byteSize()), t, 0, shape);
        }

        /** A [3, 2] view of a [2, 3] tensor: not contiguous, so the strided kernels run. */
        static Strided transposed(DType t) {
            Strided s = tensor(t, 2, 3);
            return s.withLayout(new long[] {3, 2}, new long[] {1, 3});
        }

        /** Every primitive in every dtype and layout it has a kernel for. */
        void drive() {
            List<DType> all = List.of(DType.values());
            List<DType> computed = List.of(DType.F32, DType.F64, DType.I32, DType.I64);
            for (DType s : all) for (DType d : all) elementwise.copy(transposed(s), tensor(d, 3, 2));
            for (DType t : all) elementwise.fill(tensor(t, 5), 1.5);
            for (DType t : List.of(DType.F32, DType.F64))
                for (RandomKind k : RandomKind.values()) elementwise.random(k, 7, 3, tensor(t, 9));
            for (DType t : computed) {
                elementwise.unary(UnaryOp.NEG, tensor(t, 3, 2), tensor(t, 3, 2));
                elementwise.unary(UnaryOp.NEG, transposed(t), tensor(t, 3, 2));
                elementwise.binary(BinaryOp.ADD, tensor(t, 3, 2), tensor(t, 3, 2), tensor(t, 3, 2));
                elementwise.binary(BinaryOp.ADD, transposed(t), tensor(t, 3, 2), tensor(t, 3, 2));
                elementwise.binaryScalar(BinaryOp.MUL, tensor(t, 3, 2), 2.5, false, tensor(t, 3, 2));
                elementwise.binaryScalar(BinaryOp.SUB, transposed(t), 2.5, true, tensor(t, 3, 2));
                for (DType c : computed) elementwise.where(tensor(c, 3, 2), tensor(t, 3, 2), transposed(t), tensor(t, 3, 2));
                for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.ARGMAX)) {
                    DType out = op == ReduceOp.ARGMAX ? DType.I64 : t;
                    reductions.reduce(op, tensor(t, 4, 5), 4, 5, 1, tensor(out, 4));
                    reductions.reduce(op, tensor(t, 4, 5, 3), 4, 5, 3, tensor(out, 4, 3));
                }
                reductions.indexSelect(tensor(t, 2, 5, 3), 2, 5, 3, tensor(DType.I64, 4), tensor(t, 2, 4, 3));
                reductions.indexAdd(tensor(t, 2, 4, 3), 2, 4, 3, tensor(DType.I64, 4), tensor(t, 2, 5, 3), 5);
                reductions.gather(tensor(t, 2, 5, 3), 2, 5, 3, tensor(DType.I64, 2, 4, 3), 4, tensor(t, 2, 4, 3));
                reductions.scatterAdd(tensor(t, 2, 4, 3), 2, 4, 3, tensor(DType.I64, 2, 4, 3), tensor(t, 2, 5, 3), 5);
            }
            for (DType t : List.of(DType.F32, DType.F64)) {
                reductions.softmax(tensor(t, 4, 6), 4, 6, false, tensor(t, 4, 6));
                reductions.softmax(tensor(t, 4, 6), 4, 6, true, tensor(t, 4, 6));
            }
            driveMultiTensor();
        }

        private void driveMultiTensor() {
            List<Strided> params = List.of(tensor(DType.F32, 70_001), tensor(DType.F32, 33));
            List<Strided> grads = List.of(tensor(DType.F32, 70_001), tensor(DType.F32, 33));
            List<Strided> m = List.of(tensor(DType.F32, 70_001), tensor(DType.F32, 33));
            List<Strided> v = List.of(tensor(DType.F32, 70_001), tensor(DType.F32, 33));
            Strided total = tensor(DType.F64, 2), perTensor = tensor(DType.F64, 2);
            fused.multiTensorNorm(grads, NormKind.L2, 2, perTensor, total);
            fused.multiTensorNorm(List.of(tensor(DType.BF16, 100)), NormKind.P, 3, null, total);
            fused.multiTensorStats(grads, params, tensor(DType.F64, 2L * GradStatsLayout.COLUMNS), tensor(DType.I64, 2L * GradStatsLayout.BINS));
            Strided coefficient = tensor(DType.F32, 3);
            fused.clipCoefficient(total, NormKind.L2, 2, 1.0, coefficient);
            Strided coef0 = tensor(DType.F32, 1), skip = tensor(DType.F32, 1), step = tensor(DType.F64, 1);
            fused.multiTensorScale(grads, coef0);
            fused.fusedAdam(params, grads, m, v, new AdamParams(0.9, 0.999, 1e-8, 0.01, true), LrSchedule.cosine(1e-3, 100, 0),
                    coef0, skip, step);
            fused.fusedSgd(params, grads, m, new SgdParams(0.9, 0, 1e-4, true), LrSchedule.constant(0.1), null, null, step);
            fused.fusedSgd(params, grads, null, new SgdParams(0, 0, 0, false), LrSchedule.step(0.1, 10, 0.5), coef0, skip, step);
            // with the mixed-precision working copies written in the same pass
            List<Strided> f16 = List.of(tensor(DType.F16, 70_001), tensor(DType.F16, 33));
            List<Strided> bf16 = List.of(tensor(DType.BF16, 70_001), tensor(DType.BF16, 33));
            fused.fusedAdam(params, grads, m, v, new AdamParams(0.9, 0.999, 1e-8, 0, false), LrSchedule.constant(1e-3),
                    coef0, skip, step, f16);
            fused.fusedSgd(params, grads, m, new SgdParams(0.9, 0, 0, false), LrSchedule.constant(0.1), null, null, step, bf16);
            fused.fusedSgd(params, grads, null, new SgdParams(0, 0, 0, false), LrSchedule.constant(0.1), coef0, skip, step, f16);
            // with the learning-rate factor (the guard's backoff), an F32 and an F64 one-element tensor
            Strided lrFactor = tensor(DType.F32, 1);
            fused.fusedAdam(params, grads, m, v, new AdamParams(0.9, 0.999, 1e-8, 0.01, true), LrSchedule.constant(1e-3),
                    coef0, skip, step, lrFactor, bf16);
            fused.fusedSgd(params, grads, m, new SgdParams(0.9, 0, 1e-4, false), LrSchedule.constant(0.1), null, null, step,
                    tensor(DType.F64, 1), null);
        }
    }
}
