package dev.ballast.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One in-process run of the {@code ballast} command line with stdout and stderr captured. */
record Run(int exitCode, String out, String err) {

    static Run of(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.newCommandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }
}
