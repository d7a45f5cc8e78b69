package dev.ballast.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter list of every {@code extern "C" __global__} kernel of the shipped {@code .cu} sources, read the way the
 * C preprocessor sees them: a small preprocessor expands the function-like macros the sources instantiate their kernels
 * with ({@code CAST_TO_ALL(float, f32)} ... with {@code ##} pasting) and resolves their {@code typedef}s, so each kernel
 * comes out with its concrete name and parameter types. The kernel sources are the one table: the Java packing is
 * compared with it ({@link KernelParameterLayoutTest}), never with a transcription of it.
 */
final class KernelSignatures {
    private KernelSignatures() {}

    /** One C parameter: its declared type (after macro expansion), its name and the packing it needs, if known. */
    record Param(String type, String name, Optional<LaunchArgs.Kind> kind) {
        @Override public String toString() { return type + " " + name; }
    }

    /** One kernel: the file it is in, its exported name and its parameters in order. */
    record Kernel(String file, String name, List<Param> params) {}

    private static final Pattern DEFINE = Pattern.compile("^\\s*#\\s*define\\s+(\\w+)\\(([^)]*)\\)(.*)$");
    private static final Pattern TYPEDEF = Pattern.compile("\\btypedef\\s+([\\w\\s]+?)\\s+(\\w+)\\s*;");
    private static final Pattern KERNEL = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)");
    /** An identifier, or a string literal (copied as it is: {@code extern "C"} with a macro parameter named C). */
    private static final Pattern IDENT = Pattern.compile("\"(?:\\\\.|[^\"\\\\])*\"|[A-Za-z_]\\w*");

    private record Macro(List<String> params, String body) {}

    /** Every kernel of every file of {@link KernelSources#FILES}, in source order. */
    static List<Kernel> all() {
        Map<String, String> typedefs = new HashMap<>();
        for (String h : KernelSources.HEADERS) typedefs(KernelSources.read(h), typedefs);
        List<Kernel> out = new ArrayList<>();
        for (String f : KernelSources.FILES) out.addAll(parse(f, KernelSources.read(f), typedefs));
        return out;
    }

    /** The kernels of one source text (typedefs of its headers in {@code headerTypedefs}). */
    static List<Kernel> parse(String file, String source, Map<String, String> headerTypedefs) {
        String text = stripComments(source.replace("\\\r\n", " ").replace("\\\n", " "));
        Map<String, Macro> macros = new LinkedHashMap<>();
        StringBuilder code = new StringBuilder();
        for (String line : text.split("\n")) {
            Matcher d = DEFINE.matcher(line);
            if (d.matches()) {
                List<String> ps = new ArrayList<>();
                for (String p : d.group(2).split(",")) if (!p.isBlank()) ps.add(p.strip());
                macros.put(d.group(1), new Macro(ps, d.group(3)));
            } else if (!line.stripLeading().startsWith("#")) {
                code.append(line).append('\n');
            }
        }
        String expanded = expand(code.toString(), macros);
        Map<String, String> typedefs = new HashMap<>(headerTypedefs);
        typedefs(expanded, typedefs);
        List<Kernel> out = new ArrayList<>();
        Matcher k = KERNEL.matcher(expanded);
        while (k.find()) {
            List<Param> params = new ArrayList<>();
            for (String p : splitTopLevel(k.group(2))) {
                p = p.strip().replaceAll("\\s+", " ");
                if (p.isEmpty() || p.equals("void")) continue;
                Matcher last = Pattern.compile("^(.*?)\\s*\\b(\\w+)$").matcher(p);
                if (!last.matches()) throw new IllegalStateException(file + ": cannot read parameter '" + p + "' of kernel " + k.group(1));
                String type = last.group(1).strip();
                params.add(new Param(type, last.group(2), kindOf(type, typedefs)));
            }
            out.add(new Kernel(file, k.group(1), List.copyOf(params)));
        }
        return out;
    }

    /** The packing a parameter of C type {@code type} needs; empty for a type this check does not know. */
    static Optional<LaunchArgs.Kind> kindOf(String type, Map<String, String> typedefs) {
        if (type.contains("*")) return Optional.of(LaunchArgs.Kind.PTR);
        String t = type.replaceAll("\\b(const|volatile|__restrict__)\\b", " ").replaceAll("\\s+", " ").strip();
        for (int i = 0; i < 8 && typedefs.containsKey(t); i++) t = typedefs.get(t).replaceAll("\\s+", " ").strip();
        return Optional.ofNullable(switch (t) {
            case "long long", "unsigned long long", "long", "unsigned long", "long long int", "unsigned long long int",
                 "int64_t", "uint64_t", "size_t" -> LaunchArgs.Kind.I64;
            case "int", "unsigned", "unsigned int", "int32_t", "uint32_t" -> LaunchArgs.Kind.I32;
            case "short", "unsigned short", "int16_t", "uint16_t" -> LaunchArgs.Kind.U16;
            case "float" -> LaunchArgs.Kind.F32;
            case "double" -> LaunchArgs.Kind.F64;
            case "NdArgs" -> LaunchArgs.Kind.ND;
            default -> null;
        });
    }

    private static void typedefs(String text, Map<String, String> into) {
        Matcher m = TYPEDEF.matcher(stripComments(text));
        while (m.find()) into.put(m.group(2), m.group(1).strip());
    }

    private static String stripComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", "");
    }

    /** Expands function-like macro calls until none is left (a macro's body is rescanned, as cpp does). */
    static String expand(String text, Map<String, Macro> macros) {
        for (int round = 0; round < 16; round++) {
            StringBuilder out = new StringBuilder();
            boolean changed = false;
            Matcher id = IDENT.matcher(text);
            int at = 0;
            while (id.find(at)) {
                out.append(text, at, id.start());
                Macro m = macros.get(id.group());
                int open = id.end();
                while (open < text.length() && Character.isWhitespace(text.charAt(open))) open++;
                if (m == null || open >= text.length() || text.charAt(open) != '(') {
                    out.append(id.group());
                    at = id.end();
                    continue;
                }
                int close = matchingParen(text, open);
                List<String> args = splitTopLevel(text.substring(open + 1, close));
                if (args.size() == 1 && args.getFirst().isBlank() && m.params().isEmpty()) args = List.of();
                if (args.size() != m.params().size())
                    throw new IllegalStateException("macro " + id.group() + " takes " + m.params().size() + " arguments, called with " + args.size());
                out.append(' ').append(substitute(m, args)).append(' ');
                at = close + 1;
                changed = true;
            }
            out.append(text, at, text.length());
            text = out.toString();
            if (!changed) return text;
        }
        throw new IllegalStateException("macro expansion did not settle after 16 rounds");
    }

    private static String substitute(Macro m, List<String> args) {
        StringBuilder out = new StringBuilder();
        Matcher id = IDENT.matcher(m.body());
        int at = 0;
        while (id.find()) {
            out.append(m.body(), at, id.start());
            int i = id.group().startsWith("\"") ? -1 : m.params().indexOf(id.group());
            out.append(i >= 0 ? args.get(i).strip() : id.group());
            at = id.end();
        }
        out.append(m.body().substring(at));
        return out.toString().replaceAll("\\s*##\\s*", "");
    }

    private static int matchingParen(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') depth++;
            else if (c == ')' && --depth == 0) return i;
        }
        throw new IllegalStateException("unbalanced parenthesis at " + open);
    }

    private static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(' || c == '<' || c == '[') depth++;
            else if (c == ')' || c == '>' || c == ']') depth--;
            else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }
}
