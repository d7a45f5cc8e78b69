package dev.ballast.cli;

import dev.ballast.bench.ClipBench;
import dev.ballast.bench.ClipShapes;
import dev.ballast.engine.Device;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast bench clip}: what fused gradient clipping costs on one device ({@link ClipBench}): the norm pass
 * and its bandwidth against a plain copy, clip_grad_norm_, an AdamW step, and the clipped AdamW step, per gradient
 * set, beside PyTorch where it can be run. Table on stdout; with {@code --json} one JSON line follows, the last
 * line of stdout. Progress goes to stderr. Bad options and malformed shapes files are usage errors (exit 2).
 */
@Command(name = "clip", mixinStandardHelpOptions = true,
        description = {"Fused gradient-norm clipping and AdamW step times per gradient set, beside PyTorch when it is installed.",
                "Built-in sets: GPT-2 124M (148 tensors), a 1.26B Llama-like set (201 tensors), 10,000 tensors of 1,000 floats."})
public final class ClipBenchCommand implements Callable<Integer> {

    /** Copy-bandwidth buffer for --quick: smaller, still above common last-level caches. */
    static final long QUICK_COPY_BYTES = 64L << 20;

    @Spec CommandSpec spec;

    @Mixin BenchOptions bench;

    @Option(names = "--shapes", paramLabel = "FILE.json",
            description = "Measure the tensors listed in this file instead of the built-in sets: a JSON list, one item per tensor, "
                    + "either a list of dims (f32) or {\"shape\": [...], \"dtype\": \"f32\"|\"f16\"|\"bf16\"}.")
    Path shapes;

    @Override public Integer call() {
        Device dev = bench.device();
        List<ClipShapes.GradSet> sets;
        try {
            sets = shapes == null ? ClipShapes.builtIn() : List.of(ClipShapes.read(shapes));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Invalid --shapes: " + e.getMessage());
        }
        ClipBench.Result r = ClipBench.run(dev, sets, bench.timing(ClipBench.Timing.DEFAULT), !bench.noTorch,
                bench.quick ? QUICK_COPY_BYTES : 0, bench.progress());
        bench.print(table(r), r.toJson());
        return 0;
    }

    /** The human-readable table, one row per measured set, then the skipped sets and what the ratios mean. */
    static String table(ClipBench.Result r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "device %s (%s); plain copy %.1f GB/s%n", r.device(), r.description(), r.copyGbps()));
        String head = "%-16s %7s %13s %9s %7s %7s %9s %9s %11s %9s %9s %9s %9s %9s %10s %11s %8s %8s%n";
        sb.append(String.format(Locale.ROOT, head, "set", "tensors", "params", "norm ms", "GB/s", "% copy", "clip ms",
                "adamw ms", "clip+adamw", "overhead", "chain ms", "chain +", "api ms", "vs api", "torch clip", "torch adamw", "clip x", "adamw x"));
        for (ClipBench.SetResult s : r.sets().values()) {
            sb.append(String.format(Locale.ROOT, "%-16s %7d %,13d %9.3f %7.1f %6.1f%% %9.3f %9.3f %11.3f %8.1f%% %9.3f %8.1f%% %9.3f %8.1f%% %10s %11s %8s %8s%n",
                    s.name(), s.tensors(), s.params(), s.normMs(), s.normGbps(), s.normPercentOfCopy(), s.clipMs(),
                    s.adamwMs(), s.clipAdamwMs(), s.overheadPercent(), s.chainMs(), s.chainOverheadPercent(), s.apiMs(), s.chainOverApiPercent(),
                    ms(s.torchClipMs()), ms(s.torchAdamwMs()),
                    ratio(s.torchClipMs(), s.clipMs()), ratio(s.torchAdamwMs(), s.adamwMs())));
        }
        sb.append("mixed precision (overflow check + unscale + clip + AdamW, fp16 working copies; torch: GradScaler.unscale_ "
                + "+ clip_grad_norm_ + step with AdamW fused=True + update):").append(System.lineSeparator());
        for (ClipBench.SetResult s : r.sets().values())
            sb.append(String.format(Locale.ROOT, "%-16s amp %9.3f ms  torch amp %10s ms  amp x %s%n", s.name(), s.ampMs(),
                    ms(s.torchAmpMs()), ratio(s.torchAmpMs(), s.ampMs())));
        r.skipped().forEach((name, why) -> sb.append("skipped ").append(name).append(": ").append(why).append(System.lineSeparator()));
        sb.append("PyTorch: ").append(r.torchNote()).append(System.lineSeparator());
        sb.append("GB/s: gradient bytes read by the norm pass per second; % copy: of the plain copy's (read + write) GB/s;")
                .append(System.lineSeparator())
                .append("overhead: clip+adamw over adamw; chain ms: GradientChain.of(unscale, skipIfNonFinite, clipByGlobalNorm(1), apply(adamw)),")
                .append(System.lineSeparator())
                .append("chain +: the chain over clip+adamw (one gradient read plus the optimizer's pass); api ms: GradNorm + AdamW.stepAsync")
                .append(" by hand, vs api: the chain over that").append(System.lineSeparator())
                .append("clip x, adamw x: torch time / Ballast time (above 1: Ballast is faster)")
                .append(System.lineSeparator());
        return sb.toString();
    }

    private static String ms(Double v) {
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.3f", v);
    }

    private static String ratio(Double torch, double ballast) {
        return torch == null ? "n/a" : String.format(Locale.ROOT, "%.2f", torch / ballast);
    }
}
