package dev.ballast.cli;

import dev.ballast.engine.Device;
import dev.ballast.train.builtin.ConfigException;
import dev.ballast.train.report.Finding;
import dev.ballast.train.report.Report;
import dev.ballast.train.report.ReportPage;
import dev.ballast.train.report.RunFiles;
import dev.ballast.train.report.RunLog;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast demo}: exploding gradients shown on real training runs, and what each cure does ({@link DemoStories}).
 * Runs on the best device there is (saying which and why), shows a progress bar per run on a console (one line per
 * run otherwise), prints each story's table with the findings in words, then the final table, and writes the report
 * (runs under {@code OUT/runs/}, {@code OUT/report.json}, {@code OUT/report.html}). Exit codes: 0 done, 2 bad usage.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show exploding and vanishing gradients on real runs and what each cure does: depth (init, ReLU,",
                "residual + norm), recurrence (clipping, LSTM), precision (fp32, bf16, fp16 with and without loss",
                "scaling). Ends with a table and an HTML report.",
                "Example: ballast demo --out demo-report"})
public final class DemoCommand implements Callable<Integer> {
    static final List<String> STORIES = List.of("depth", "recurrence", "precision");

    @Spec CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the report goes (default: ${DEFAULT-VALUE}).", defaultValue = "ballast-demo")
    Path out;
    @Option(names = "--device", description = "auto (default: the best there is), cpu, cuda.", defaultValue = "auto")
    String device;
    @Option(names = "--stories", split = ",", paramLabel = "NAME", description = "Which stories, in order: depth, recurrence, precision (default: all).")
    List<String> stories;
    @Option(names = "--seeds", description = "Seeds per recurrent run kind (default: ${DEFAULT-VALUE}).", defaultValue = "4")
    int seeds;
    @Option(names = "--quick", description = "Every story at a small size (fewer layers, steps and seeds), for tests; its numbers prove nothing.")
    boolean quick;

    @Override public Integer call() {
        PrintWriter o = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        long t0 = System.nanoTime(), cpu0 = DemoRunner.processCpuNanos();
        Set<String> chosen = new LinkedHashSet<>(stories == null ? STORIES : stories);
        for (String s : chosen)
            if (!STORIES.contains(s)) return usage(err, "--stories: '" + s + "' is not one of " + String.join(", ", STORIES));
        if (seeds < 1) return usage(err, "--seeds must be >= 1, got " + seeds);
        String dev;
        try {
            dev = Device.named(device).name();
        } catch (RuntimeException e) {
            return usage(err, "--device: " + e.getMessage());
        }
        String why = device.equalsIgnoreCase("auto") ? Device.autoReason() : dev + " (asked for)";
        o.println("ballast demo: device " + why + (quick ? "; quick mode: small sizes, the numbers prove nothing" : ""));
        o.flush();
        List<DemoStories.Story> plan;
        try {
            plan = DemoStories.all(quick, dev, seeds).stream().filter(s -> chosen.contains(s.key())).toList();
        } catch (ConfigException e) {
            err.println("ballast demo: " + e.getMessage());
            return 1;
        }
        DemoRunner runner = new DemoRunner(TrainCommand.interactive(), err);
        List<DemoStories.Row> rows = new ArrayList<>();
        List<Report.Section> sections = new ArrayList<>();
        for (DemoStories.Story story : plan) {
            o.println();
            o.println("== " + story.title() + " (" + story.runs().size() + " runs)");
            o.flush();
            List<DemoRunner.Outcome> outcomes = new ArrayList<>();
            for (DemoStories.Planned p : story.runs()) outcomes.add(runner.run(p.name(), p.title(), p.config()));
            List<DemoStories.Row> storyRows = story.rows().apply(outcomes);
            rows.addAll(storyRows);
            Report.Table table = table(storyRows, false);
            o.print(table.text());
            for (DemoRunner.Outcome oc : outcomes)
                for (Finding f : oc.log().findings()) if (!f.kind().equals("healthy")) o.println(oc.log().name() + ": " + f.line());
            o.flush();
            List<RunLog> logs = outcomes.stream().map(DemoRunner.Outcome::log).toList();
            sections.add(new Report.Section(story.title(), story.paragraphs(), table, logs));
        }
        double secs = (System.nanoTime() - t0) / 1e9, cpu = (DemoRunner.processCpuNanos() - cpu0) / 1e9;
        Report.Table all = table(rows, true);
        String subtitle = String.format(Locale.ROOT, "device %s; %d runs in %.0f s; %s%s", why,
                sections.stream().mapToInt(s -> s.runs().size()).sum(), secs, Instant.now().truncatedTo(ChronoUnit.SECONDS),
                quick ? "; quick mode (small sizes)" : "");
        List<Report.Section> withSummary = new ArrayList<>();
        withSummary.add(new Report.Section("Summary", List.of("Every row is a real training run (or a group of seeds) on this machine; "
                + "the findings are drawn from the recorded gradient norms."), all, List.of()));
        withSummary.addAll(sections);
        Report report = new Report("Ballast demo: exploding gradients on real runs", subtitle, withSummary);
        RunFiles.writeReport(out, report);
        Path page = ReportPage.write(out, report);
        o.println();
        o.println("== final table");
        o.print(all.text());
        o.println();
        o.println("report: " + page.toAbsolutePath());
        o.println(String.format(Locale.ROOT, "wall time: %.1f s", secs));
        o.println(String.format(Locale.ROOT, "CPU time: %.1f s (all threads of the process)", cpu));
        o.flush();
        return 0;
    }

    private static Report.Table table(List<DemoStories.Row> rows, boolean withStory) {
        List<String> headers = withStory ? List.of("story", "run", "result", "gradients") : List.of("run", "result", "gradients");
        List<List<String>> cells = new ArrayList<>();
        for (DemoStories.Row r : rows)
            cells.add(withStory ? List.of(r.story(), r.run(), r.result(), r.gradients()) : List.of(r.run(), r.result(), r.gradients()));
        return new Report.Table(headers, cells);
    }

    private int usage(PrintWriter err, String msg) {
        err.println("ballast demo: " + msg);
        err.println("Run 'ballast demo --help' for the options.");
        err.flush();
        return 2;
    }
}
