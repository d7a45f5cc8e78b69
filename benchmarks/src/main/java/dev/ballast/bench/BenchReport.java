package dev.ballast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/**
 * The result of {@code ballast bench matmul} or {@code ballast bench ops}: one row per measured (op, dtype, size)
 * with Ballast's figure beside PyTorch's, plus notes (skipped rows, why PyTorch was not measured, machine facts).
 *
 * @param device      the device name, "cpu" or "cuda"
 * @param description the backend's description (GPU name, thread count)
 * @param rows        measured rows in measurement order
 * @param notes       free-text lines: what was skipped and why, the PyTorch version or why it did not run
 */
public record BenchReport(String device, String description, List<Row> rows, List<String> notes) {

    public BenchReport {
        rows = List.copyOf(rows);
        notes = List.copyOf(notes);
    }

    /**
     * One measured figure. {@code n} is the matrix size for matmul and the element count per operand for the
     * bandwidth and overhead rows. {@code torch} is null where PyTorch was not measured. {@code ofCopy} and
     * {@code torchOfCopy} are the row's bandwidth as a fraction of the same side's plain copy bandwidth (null for
     * rows that are not bandwidth rows).
     */
    public record Row(String op, String dtype, long n, double ballast, Double torch, String unit,
                      Double ofCopy, Double torchOfCopy) {

        /** A row without copy fractions (matmul, tiny-op overhead). */
        public Row(String op, String dtype, long n, double ballast, Double torch, String unit) {
            this(op, dtype, n, ballast, torch, unit, null, null);
        }

        /** Ballast's figure over PyTorch's, or null without a positive PyTorch figure. For "us" rows lower is better. */
        public Double ratio() {
            return torch == null || !(torch > 0) ? null : ballast / torch;
        }

        /** Whether a larger figure is better: throughput units yes, times ("us", "ms") no. */
        public boolean higherIsBetter() {
            return !unit.equals("us") && !unit.equals("ms");
        }

        Row withTorch(Double t, Double tOfCopy) {
            return new Row(op, dtype, n, ballast, t, unit, ofCopy, tOfCopy);
        }
    }

    /** The same report with {@code rows} in place of these rows. */
    public BenchReport withRows(List<Row> newRows) {
        return new BenchReport(device, description, newRows, notes);
    }

    /**
     * {"device": ..., "description": ..., "rows": [{"op", "dtype", "n", "ballast", "torch", "unit", "ratio"
     * [, "of_copy", "torch_of_copy"]}], "notes": [...]}; torch and ratio are null where PyTorch was not measured,
     * the copy fractions appear only on bandwidth rows.
     */
    public String toJson() {
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        root.put("device", device);
        root.put("description", description);
        ArrayNode arr = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = arr.addObject();
            o.put("op", r.op());
            o.put("dtype", r.dtype());
            o.put("n", r.n());
            o.put("ballast", r.ballast());
            o.put("torch", r.torch());
            o.put("unit", r.unit());
            o.put("ratio", r.ratio());
            if (r.ofCopy() != null || r.torchOfCopy() != null) {
                o.put("of_copy", r.ofCopy());
                o.put("torch_of_copy", r.torchOfCopy());
            }
        }
        ArrayNode nn = root.putArray("notes");
        notes.forEach(nn::add);
        return root.toString();
    }

    /** A human-readable table: one line per row, then the notes and what the ratio means. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        String nl = System.lineSeparator();
        sb.append("device ").append(device).append(" (").append(description).append(')').append(nl);
        boolean copyCols = rows.stream().anyMatch(r -> r.ofCopy() != null);
        sb.append(String.format(Locale.ROOT, "%-9s %-5s %12s %12s %12s %-8s %7s", "op", "dtype", "n", "ballast", "torch",
                "unit", "ratio"));
        if (copyCols) sb.append(String.format(Locale.ROOT, " %9s %9s", "% copy", "torch %"));
        sb.append(nl);
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-9s %-5s %,12d %12s %12s %-8s %7s", r.op(), r.dtype(), r.n(),
                    num(r.ballast()), r.torch() == null ? "n/a" : num(r.torch()), r.unit(),
                    r.ratio() == null ? "n/a" : String.format(Locale.ROOT, "%.2f", r.ratio())));
            if (copyCols) sb.append(String.format(Locale.ROOT, " %9s %9s", pct(r.ofCopy()), pct(r.torchOfCopy())));
            sb.append(nl);
        }
        for (String n : notes) sb.append("note: ").append(n).append(nl);
        sb.append("ratio: Ballast / PyTorch (for TFLOP/s and GB/s above 1 means Ballast is faster; for us, below 1)").append(nl);
        return sb.toString();
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.1f" : Math.abs(v) >= 1 ? "%.3f" : "%.4f", v);
    }

    private static String pct(Double f) {
        return f == null ? "" : String.format(Locale.ROOT, "%.1f%%", 100 * f);
    }
}
