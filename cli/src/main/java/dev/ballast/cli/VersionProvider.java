package dev.ballast.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;

/**
 * {@code --version}: "ballast &lt;version&gt;" from the Maven-filtered {@code version.properties}, then the
 * Java runtime that runs it.
 */
public final class VersionProvider implements CommandLine.IVersionProvider {

    /** The Ballast version the build stamped into the jar, e.g. "0.1.0-SNAPSHOT". */
    public static String ballastVersion() {
        try (InputStream in = VersionProvider.class.getResourceAsStream("version.properties")) {
            if (in == null) throw new IllegalStateException("version.properties missing from the class path; rebuild with Maven");
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "");
            if (v.isBlank() || v.contains("${")) throw new IllegalStateException("version.properties was not filtered by Maven: '" + v + "'");
            return v;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override public String[] getVersion() {
        return new String[] {
            "ballast " + ballastVersion(),
            "java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")"
        };
    }
}
