package dev.ballast.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.engine.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gradient sets {@code ballast bench clip} measures: the three built-in sets of
 * {@code pytorch-clip-bench.py} (shape lists copied exactly, so the numbers compare with
 * {@code pytorch-h100-baseline.json}), and sets read from a JSON file.
 */
public final class ClipShapes {
    private ClipShapes() {}

    /** One tensor of a set: its dims and the dtype of its gradient. */
    public record Entry(long[] shape, DType dtype) {
        public Entry {
            shape = shape.clone();
            if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16)
                throw new IllegalArgumentException("gradient dtype must be f32, f16 or bf16, got " + dtype.label());
        }

        /** Element count. */
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        @Override public long[] shape() { return shape.clone(); }

        @Override public boolean equals(Object o) {
            return o instanceof Entry e && e.dtype == dtype && Arrays.equals(e.shape, shape);
        }

        @Override public int hashCode() { return 31 * Arrays.hashCode(shape) + dtype.hashCode(); }

        @Override public String toString() { return Arrays.toString(shape) + " " + dtype.label(); }
    }

    /** A named list of tensors. */
    public record GradSet(String name, List<Entry> tensors) {
        public GradSet {
            tensors = List.copyOf(tensors);
        }

        /** Total element count. */
        public long params() {
            long n = 0;
            for (Entry e : tensors) n += e.numel();
            return n;
        }
    }

    /** The three built-in sets, in the order of the PyTorch baseline. */
    public static List<GradSet> builtIn() {
        return List.of(new GradSet("gpt2_124M", f32(gpt2())), new GradSet("llama_1B", f32(llama1b())),
                new GradSet("small_10k_x_1k", f32(Collections.nCopies(10_000, new long[] {1000}))));
    }

    /** GPT-2 124M: 148 tensors, 124,439,808 parameters (shapes_gpt2 in pytorch-clip-bench.py). */
    static List<long[]> gpt2() {
        List<long[]> s = new ArrayList<>(List.of(new long[] {50257, 768}, new long[] {1024, 768}));
        for (int i = 0; i < 12; i++) {
            s.addAll(List.of(new long[] {768}, new long[] {768}, new long[] {768, 2304}, new long[] {2304},
                    new long[] {768, 768}, new long[] {768}, new long[] {768}, new long[] {768},
                    new long[] {768, 3072}, new long[] {3072}, new long[] {3072, 768}, new long[] {768}));
        }
        s.add(new long[] {768});
        s.add(new long[] {768});
        return s;
    }

    /** The 1.26B Llama-like set: 201 tensors, 1,261,529,088 parameters (shapes_1b in pytorch-clip-bench.py). */
    static List<long[]> llama1b() {
        List<long[]> s = new ArrayList<>();
        s.add(new long[] {32000, 2048});
        for (int i = 0; i < 22; i++) {
            for (int k = 0; k < 4; k++) s.add(new long[] {2048, 2048});
            s.addAll(List.of(new long[] {2048, 5632}, new long[] {2048, 5632}, new long[] {5632, 2048},
                    new long[] {2048}, new long[] {2048}));
        }
        s.add(new long[] {2048});
        s.add(new long[] {32000, 2048});
        return s;
    }

    private static List<Entry> f32(List<long[]> shapes) {
        return shapes.stream().map(sh -> new Entry(sh, DType.F32)).toList();
    }

    /**
     * Reads a set from a JSON file: a non-empty list with one item per tensor, each either a list of dims
     * (an F32 gradient) or {@code {"shape": [...], "dtype": "f32"|"f16"|"bf16"}} (dtype optional, f32).
     * Dims are whole numbers >= 0; {@code []} is a 0-d tensor. Errors name the file, the item and what is allowed.
     */
    public static GradSet read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read shapes file " + file + ": " + e.getMessage(), e);
        }
        String name = file.getFileName().toString().replaceFirst("\\.json$", "");
        return parse(name, text, file.toString());
    }

    /** Parses the JSON text of a shapes file; {@code where} names it in error messages. */
    public static GradSet parse(String name, String text, String where) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("shapes file " + where + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray() || root.isEmpty())
            throw new IllegalArgumentException("shapes file " + where + " must hold a non-empty JSON list with one item per tensor, "
                    + "each a list of dims such as [768, 3072] or {\"shape\": [768], \"dtype\": \"bf16\"}");
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) entries.add(entry(root.get(i), i, where));
        return new GradSet(name, entries);
    }

    private static Entry entry(JsonNode item, int i, String where) {
        String at = "shapes file " + where + ", item " + i + " (" + item + "): ";
        JsonNode dims = item;
        DType dtype = DType.F32;
        if (item.isObject()) {
            Map<String, JsonNode> fields = new LinkedHashMap<>();
            item.properties().forEach(f -> fields.put(f.getKey(), f.getValue()));
            for (String k : fields.keySet()) {
                if (!k.equals("shape") && !k.equals("dtype"))
                    throw new IllegalArgumentException(at + "unknown key '" + k + "'; allowed: shape, dtype");
            }
            dims = fields.get("shape");
            if (dims == null) throw new IllegalArgumentException(at + "missing \"shape\" (a list of dims)");
            JsonNode dt = fields.get("dtype");
            if (dt != null) {
                if (!dt.isTextual()) throw new IllegalArgumentException(at + "\"dtype\" must be one of \"f32\", \"f16\", \"bf16\"");
                dtype = switch (dt.asText().toLowerCase(java.util.Locale.ROOT)) {
                    case "f32" -> DType.F32;
                    case "f16" -> DType.F16;
                    case "bf16" -> DType.BF16;
                    default -> throw new IllegalArgumentException(at + "unknown dtype '" + dt.asText() + "'; allowed: f32, f16, bf16");
                };
            }
        } else if (!item.isArray()) {
            throw new IllegalArgumentException(at + "each item must be a list of dims or an object {\"shape\": [...], \"dtype\": ...}");
        }
        if (!dims.isArray()) throw new IllegalArgumentException(at + "\"shape\" must be a list of dims");
        long[] shape = new long[dims.size()];
        for (int d = 0; d < shape.length; d++) {
            JsonNode v = dims.get(d);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0)
                throw new IllegalArgumentException(at + "dim " + d + " is " + v + "; dims must be whole numbers >= 0");
            shape[d] = v.asLong();
        }
        try {
            long n = 1;
            for (long s : shape) n = Math.multiplyExact(n, s);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(at + "the element count overflows a long");
        }
        return new Entry(shape, dtype);
    }
}
