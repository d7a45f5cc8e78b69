package dev.ballast.cli;

import java.util.Map;

/**
 * How many threads the CPU backend is asked to use, and where that number came from: the system
 * property {@code ballast.threads}, else the environment variable {@code BALLAST_THREADS}, else
 * {@link Runtime#availableProcessors()}. A value that is not a positive integer is skipped, and the
 * problem is kept in {@link #note} so that {@code doctor} can show it.
 */
public record CpuThreads(int count, String source, String note) {

    /** The setting for this JVM. */
    public static CpuThreads current() {
        return resolve(System.getProperty("ballast.threads"), System.getenv(), Runtime.getRuntime().availableProcessors());
    }

    /** The setting for the given property value (may be null), environment and processor count. */
    public static CpuThreads resolve(String property, Map<String, String> env, int processors) {
        StringBuilder note = new StringBuilder();
        Integer fromProperty = parse("-Dballast.threads", property, note);
        if (fromProperty != null) return new CpuThreads(fromProperty, "-Dballast.threads", note.toString());
        Integer fromEnv = parse("BALLAST_THREADS", env.get("BALLAST_THREADS"), note);
        if (fromEnv != null) return new CpuThreads(fromEnv, "BALLAST_THREADS", note.toString());
        return new CpuThreads(processors, "available processors", note.toString());
    }

    private static Integer parse(String name, String value, StringBuilder note) {
        if (value == null || value.isBlank()) return null;
        try {
            int n = Integer.parseInt(value.strip());
            if (n > 0) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        if (!note.isEmpty()) note.append("; ");
        note.append("ignored ").append(name).append("='").append(value).append("': must be a positive integer");
        return null;
    }

    /** "4 (BALLAST_THREADS)", with any ignored setting appended. */
    @Override public String toString() {
        return count + " (" + source + ")" + (note.isEmpty() ? "" : " [" + note + "]");
    }
}
