package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ballast.cuda.cublas.Cublas;
import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.cuda.nvrtc.Nvrtc;
import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeElement;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.ConstantInstruction;
import java.lang.classfile.instruction.FieldInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The FFM bindings checked without a GPU, from one table: the descriptors the binding classes actually bind
 * ({@link CudaLibraries#boundFunctions()}, filled by constructing them against a lookup that finds every symbol)
 * against the C prototypes (cuda.h of the local toolkit, after its {@code #define cuX cuX_v2} aliases; the NVRTC
 * and cuBLAS prototypes kept in test resources), and every {@code invokeExact} call site's compiled type against
 * the descriptor of the handle it calls (a mismatch is a WrongMethodTypeException at run time, on every GPU).
 */
class NativeBindingsTest {
    static final Path CUDA_H = Path.of(System.getProperty("ballast.test.cudaHeader", "/usr/local/cuda/include/cuda.h"));
    static Map<String, FunctionDescriptor> bound;

    /** A "library" whose every symbol resolves to a dummy address: binding only creates handles, nothing is called. */
    static CudaLibraries.Loaded everything(String name) {
        return new CudaLibraries.Loaded(name, name + " (binding check)", symbol -> Optional.of(MemorySegment.ofAddress(0x1000)));
    }

    @BeforeAll static void bindAll() {
        new CudaDriver(everything("libcuda.so.1"));
        new Nvrtc(everything("libnvrtc.so.13"));
        new Cublas(everything("libcublas.so.13"));
        bound = new TreeMap<>(CudaLibraries.boundFunctions());
        assertTrue(bound.size() > 40, "bound " + bound.size() + " functions");
    }

    // ------------------------------------------------------------------ descriptors vs C prototypes

    record Prototype(String returns, List<String> params) {}

    static Map<String, Prototype> prototypes(String text) {
        text = text.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
        Map<String, Prototype> out = new HashMap<>();
        Matcher m = Pattern.compile("([\\w\\s*]+?)\\b(CUDAAPI|NVRTC|CUBLASWINAPI)\\s+(\\w+)\\s*\\(([^;{}()]*)\\)\\s*;").matcher(text);
        while (m.find()) {
            String args = m.group(4).trim().replaceAll("\\s+", " ");
            List<String> params = args.isEmpty() || args.equals("void") ? List.of() : List.of(args.split("\\s*,\\s*"));
            out.putIfAbsent(m.group(3), new Prototype(m.group(1).trim().replaceAll("\\s+", " "), params));
        }
        return out;
    }

    static final List<String> HANDLES = List.of("CUcontext", "CUstream", "CUevent", "CUmodule", "CUfunction", "CUgraph",
            "CUgraphExec", "nvrtcProgram", "cublasHandle_t", "cudaStream_t");
    static final List<String> INTS = List.of("CUdevice", "CUresult", "CUdevice_attribute", "CUstreamCaptureMode", "nvrtcResult",
            "cublasStatus_t", "cublasOperation_t", "cudaDataType", "cublasComputeType_t", "cublasGemmAlgo_t", "cublasMath_t", "int",
            "unsigned int", "unsigned");
    static final List<String> LONGS = List.of("CUdeviceptr", "size_t", "unsigned long long", "long long int", "long long", "cuuint64_t");

    /** The FFM layout a C parameter or return type is passed as on x86-64 Linux. */
    static String layoutOf(String cType) {
        String t = cType.replaceAll("\\b(const|restrict|__restrict__)\\b", " ").trim().replaceAll("\\s+", " ");
        if (t.contains("*") || t.contains("[")) return "ADDRESS";
        String[] words = t.split(" ");
        String type = words.length > 1 && !LONGS.contains(t) && !INTS.contains(t) ? t.substring(0, t.lastIndexOf(' ')) : t;
        if (HANDLES.contains(type)) return "ADDRESS";
        if (LONGS.contains(type)) return "JAVA_LONG";
        if (INTS.contains(type)) return "JAVA_INT";
        if (type.equals("unsigned char") || type.equals("char")) return "JAVA_BYTE";
        if (type.equals("float")) return "JAVA_FLOAT";
        if (type.equals("double")) return "JAVA_DOUBLE";
        return "? " + type;
    }

    static String layoutOf(MemoryLayout l) {
        if (l instanceof java.lang.foreign.AddressLayout) return "ADDRESS";
        if (l instanceof ValueLayout v) {
            Class<?> c = v.carrier();
            if (c == int.class) return "JAVA_INT";
            if (c == long.class) return "JAVA_LONG";
            if (c == byte.class) return "JAVA_BYTE";
            if (c == float.class) return "JAVA_FLOAT";
            if (c == double.class) return "JAVA_DOUBLE";
            if (c == short.class) return "JAVA_SHORT";
        }
        return "? " + l;
    }

    @Test void everyDescriptorMatchesItsCPrototype() throws IOException {
        Assumptions.assumeTrue(Files.isRegularFile(CUDA_H), "no " + CUDA_H + " (the CUDA toolkit headers) to check the driver bindings against");
        String cuda = Files.readString(CUDA_H);
        Map<String, Prototype> driver = prototypes(cuda);
        // #define cuMemAlloc cuMemAlloc_v2: the symbol a C program links is the _vN one, declared under the plain name.
        Map<String, String> exportedToDeclared = new HashMap<>(), declaredToExported = new HashMap<>();
        Matcher d = Pattern.compile("#define\\s+(cu\\w+)\\s+(?:__CUDA_API_PTDS\\(|__CUDA_API_PTSZ\\()?\\s*(cu\\w+)\\s*\\)?").matcher(cuda);
        while (d.find()) if (!d.group(1).equals(d.group(2))) {
            exportedToDeclared.putIfAbsent(d.group(2), d.group(1));
            declaredToExported.putIfAbsent(d.group(1), d.group(2));
        }
        Map<String, Prototype> others;
        try (InputStream in = NativeBindingsTest.class.getResourceAsStream("/native-prototypes/nvrtc-cublas.h")) {
            others = prototypes(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (var e : bound.entrySet()) {
            String sym = e.getKey();
            boolean isDriver = sym.startsWith("cu") && !sym.startsWith("cublas");
            Prototype p;
            if (isDriver) {
                if (declaredToExported.containsKey(sym))
                    problems.add(sym + ": cuda.h #defines it to " + declaredToExported.get(sym) + "; the plain name is the legacy ABI");
                p = driver.get(exportedToDeclared.getOrDefault(sym, sym));
                if (p == null) p = driver.get(sym);
            } else {
                p = others.get(sym);
            }
            if (p == null) {
                problems.add(sym + ": no C prototype found (" + (isDriver ? CUDA_H : "native-prototypes/nvrtc-cublas.h") + ")");
                continue;
            }
            FunctionDescriptor fd = e.getValue();
            List<String> want = p.params().stream().map(NativeBindingsTest::layoutOf).toList();
            List<String> got = fd.argumentLayouts().stream().map(NativeBindingsTest::layoutOf).toList();
            String wantRet = layoutOf(p.returns()), gotRet = fd.returnLayout().map(NativeBindingsTest::layoutOf).orElse("void");
            if (!want.equals(got) || !wantRet.equals(gotRet))
                problems.add(sym + ": bound (" + String.join(", ", got) + ") -> " + gotRet + ", C says (" + String.join(", ", want) + ") -> "
                        + wantRet + "  [" + p.returns() + " " + sym + "(" + String.join(", ", p.params()) + ")]");
            checked++;
        }
        System.out.println("[bindings] " + checked + " descriptors checked against C prototypes, " + problems.size() + " problems");
        if (!problems.isEmpty()) fail(String.join("\n", problems));
        assertEquals(bound.size(), checked);
    }

    // ------------------------------------------------------------------ invokeExact call sites

    /**
     * In each binding class: the constructor stores each handle from a bind of a named symbol (the last string
     * constant before the putfield), and every invokeExact on that field must have the descriptor's type.
     */
    @Test void everyInvokeExactSiteHasItsHandlesType() throws IOException {
        List<String> problems = new ArrayList<>();
        int sites = 0;
        for (Class<?> c : List.of(CudaDriver.class, Nvrtc.class, Cublas.class)) {
            ClassModel cm;
            try (InputStream in = c.getResourceAsStream(c.getSimpleName() + ".class")) {
                cm = ClassFile.of().parse(in.readAllBytes());
            }
            Map<String, String> fieldSymbol = new HashMap<>();
            for (MethodModel m : cm.methods()) {
                if (!m.methodName().stringValue().equals("<init>") || m.code().isEmpty()) continue;
                String lastString = null;
                for (CodeElement el : m.code().get()) {
                    if (el instanceof ConstantInstruction ci && ci.constantValue() instanceof String s && bound.containsKey(s)) lastString = s;
                    if (el instanceof FieldInstruction fi && fi.opcode() == java.lang.classfile.Opcode.PUTFIELD
                            && fi.typeSymbol().descriptorString().equals("Ljava/lang/invoke/MethodHandle;") && lastString != null) {
                        fieldSymbol.put(fi.name().stringValue(), lastString);
                        lastString = null;
                    }
                }
            }
            for (MethodModel m : cm.methods()) {
                if (m.code().isEmpty()) continue;
                String lastField = null;
                for (CodeElement el : m.code().get()) {
                    if (el instanceof FieldInstruction fi && fi.opcode() == java.lang.classfile.Opcode.GETFIELD
                            && fi.typeSymbol().descriptorString().equals("Ljava/lang/invoke/MethodHandle;")) lastField = fi.name().stringValue();
                    if (el instanceof InvokeInstruction ii && ii.owner().asInternalName().equals("java/lang/invoke/MethodHandle")
                            && ii.name().stringValue().equals("invokeExact")) {
                        sites++;
                        String where = c.getSimpleName() + "." + m.methodName().stringValue();
                        String sym = lastField == null ? null : fieldSymbol.get(lastField);
                        if (sym == null) { problems.add(where + ": invokeExact on a handle not bound in the constructor (" + lastField + ")"); continue; }
                        String want = bound.get(sym).toMethodType().descriptorString(), got = ii.typeSymbol().descriptorString();
                        if (!want.equals(got)) problems.add(where + " calls " + sym + " as " + got + " but it is bound as " + want);
                    }
                }
            }
        }
        System.out.println("[bindings] " + sites + " invokeExact call sites checked, " + problems.size() + " problems");
        if (!problems.isEmpty()) fail(String.join("\n", problems));
        assertTrue(sites >= bound.size(), sites + " call sites for " + bound.size() + " handles");
    }
}
