package dev.ballast.train.report;

import java.util.List;

/**
 * A report: a title, a line under it (e.g. the device and the wall time) and sections, each a story told by its
 * paragraphs, a table of results and the runs it charts. A single training run's report has one section.
 */
public record Report(String title, String subtitle, List<Section> sections) {
    public Report {
        sections = List.copyOf(sections);
    }

    /** One story: paragraphs of text, a results table (may be empty) and its runs. */
    public record Section(String title, List<String> paragraphs, Table table, List<RunLog> runs) {
        public Section {
            paragraphs = List.copyOf(paragraphs);
            table = table == null ? new Table(List.of(), List.of()) : table;
            runs = List.copyOf(runs);
        }
    }

    /** A table of strings: a header row and rows of the same width. */
    public record Table(List<String> headers, List<List<String>> rows) {
        public Table {
            headers = List.copyOf(headers);
            rows = rows.stream().map(List::copyOf).toList();
            for (List<String> r : rows)
                if (r.size() != headers.size())
                    throw new IllegalArgumentException("table row has " + r.size() + " cells, the header " + headers.size());
        }

        /** The table as aligned text columns (for a terminal). */
        public String text() {
            int[] w = new int[headers.size()];
            for (int i = 0; i < w.length; i++) w[i] = headers.get(i).length();
            for (List<String> r : rows) for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], r.get(i).length());
            StringBuilder sb = new StringBuilder();
            appendRow(sb, headers, w);
            for (int i = 0; i < w.length; i++) sb.append(i == 0 ? "" : "  ").append("-".repeat(w[i]));
            sb.append('\n');
            for (List<String> r : rows) appendRow(sb, r, w);
            return sb.toString();
        }

        /** The table in Markdown (for a README). */
        public String markdown() {
            StringBuilder sb = new StringBuilder("| ").append(String.join(" | ", headers)).append(" |\n|");
            sb.append("---|".repeat(headers.size())).append('\n');
            for (List<String> r : rows) sb.append("| ").append(String.join(" | ", r)).append(" |\n");
            return sb.toString();
        }

        private static void appendRow(StringBuilder sb, List<String> cells, int[] w) {
            for (int i = 0; i < w.length; i++) {
                String c = cells.get(i);
                sb.append(i == 0 ? "" : "  ").append(c).append(" ".repeat(w[i] - c.length()));
            }
            sb.setLength(sb.length() - sb.length() + sb.toString().stripTrailing().length());
            sb.append('\n');
        }
    }
}
