package dev.ballast.cli;

import dev.ballast.bench.CpuMatmulBench;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast bench cpu-matmul}: square f32 matmul throughput of the CPU backend beside NumPy's,
 * as a table on stdout; with {@code --json} the same numbers follow as one JSON line, the last line
 * of stdout. Progress goes to stderr.
 */
@Command(name = "cpu-matmul", mixinStandardHelpOptions = true,
        description = "Square f32 matmul GFLOP/s of the CPU backend beside NumPy, per size.")
public final class CpuMatmulCommand implements Callable<Integer> {

    /** Largest size accepted: 16384^2 floats is 1 GiB per operand. */
    static final int MAX_SIZE = 16384;

    @Spec CommandSpec spec;

    @Option(names = "--sizes", split = ",", paramLabel = "N", defaultValue = "256,512,1024,2048",
            description = "Comma-separated matrix sizes (N x N times N x N), each 1..16384. Default: ${DEFAULT-VALUE}.")
    int[] sizes;

    @Option(names = "--json", description = "Also print the results as one JSON line, the last line of stdout.")
    boolean json;

    @Override public Integer call() {
        for (int n : sizes) {
            if (n < 1 || n > MAX_SIZE)
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "Invalid --sizes value " + n + ": each size must be between 1 and " + MAX_SIZE);
        }
        PrintWriter err = spec.commandLine().getErr();
        CpuMatmulBench.Result result = CpuMatmulBench.run(sizes.clone(), line -> { err.println(line); err.flush(); });
        PrintWriter out = spec.commandLine().getOut();
        out.print(table(result));
        if (json) out.println(result.toJson());
        out.flush();
        return 0;
    }

    /** The human-readable table: size, Ballast GFLOP/s, NumPy GFLOP/s, ratio ("n/a" where NumPy has no number). */
    static String table(CpuMatmulBench.Result r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%6s  %16s  %14s  %6s%n", "size", "Ballast GFLOP/s", "NumPy GFLOP/s", "ratio"));
        for (int i = 0; i < r.sizes().length; i++) {
            Double numpy = r.numpyGflops()[i];
            Double ratio = r.ratio(i);
            sb.append(String.format(Locale.ROOT, "%6d  %16.1f  %14s  %6s%n", r.sizes()[i], r.ballastGflops()[i],
                    numpy == null ? "n/a" : String.format(Locale.ROOT, "%.1f", numpy),
                    ratio != null && Double.isFinite(ratio) ? String.format(Locale.ROOT, "%.2f", ratio) : "n/a"));
        }
        return sb.toString();
    }
}
