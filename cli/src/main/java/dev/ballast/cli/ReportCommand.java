package dev.ballast.cli;

import dev.ballast.train.report.Report;
import dev.ballast.train.report.ReportPage;
import dev.ballast.train.report.RunFiles;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ballast report RUN_DIR}: rebuilds {@code report.html} from the logs in a directory written by
 * {@code ballast train --out} (run.json, metrics.jsonl) or {@code ballast demo} (report.json, runs/). Exit codes:
 * 0 written, 1 the directory holds no run or a file could not be read (one line on stderr saying which).
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Rebuild report.html (charts and findings, no network needed to open it) from a run directory.",
                "Example: ballast train --out runs/a && ballast report runs/a"})
public final class ReportCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "RUN_DIR", description = "Directory written by 'ballast train --out' or 'ballast demo'.")
    Path dir;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Report report;
        try {
            report = RunFiles.read(dir);
        } catch (IllegalArgumentException e) {
            err.println("ballast " + e.getMessage());
            err.flush();
            return 1;
        }
        Path page = ReportPage.write(dir, report);
        out.println("report: " + page + " (" + report.sections().stream().mapToInt(s -> s.runs().size()).sum() + " runs)");
        out.flush();
        return 0;
    }
}
