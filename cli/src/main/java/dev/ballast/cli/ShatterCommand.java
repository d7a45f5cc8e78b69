package dev.ballast.cli;

import dev.ballast.engine.Device;
import dev.ballast.engine.nn.Module;
import dev.ballast.train.probe.ShatterProbe;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast probe shatter}: the shattered-gradients probe (Balduzzi et al. 2017) on a plain ReLU MLP and the same
 * depth with skip connections: the input gradient along a line of inputs and its autocorrelation at lags 1..5.
 */
@Command(name = "shatter", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Shattered gradients: autocorrelation of d output / d input along a line of inputs,",
                "for a plain ReLU MLP and the same depth with skip connections (white noise ~ 0, correlated ~ 1)."})
public final class ShatterCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--depth", description = "Hidden layers (default 24).") int depth = 24;
    @Option(names = "--width", description = "Width of the hidden layers (default 200).") int width = 200;
    @Option(names = "--points", description = "Inputs along the line [-2, 2] (default 256).") int points = 256;
    @Option(names = "--seed", description = "Seed of the weights (default 0).") long seed;
    @Option(names = "--json", description = "Print one JSON object instead of a table.") boolean json;

    @Override public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (depth < 1 || width < 1 || points < 8) {
            err.println("ballast probe shatter: --depth and --width must be >= 1 and --points >= 8");
            err.flush();
            return 2;
        }
        Map<String, double[]> lags = new LinkedHashMap<>();
        for (boolean residual : new boolean[] {false, true}) {
            try (Module net = ShatterProbe.reluNet(Device.auto(), depth, width, residual, seed)) {
                lags.put(residual ? "residual" : "plain", ShatterProbe.probe(net, 1, points, -2, 2).autocorrelation());
            }
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("depth", depth);
            m.put("width", width);
            m.put("points", points);
            for (var e : lags.entrySet()) m.put(e.getKey(), java.util.Arrays.copyOfRange(e.getValue(), 1, Math.min(6, e.getValue().length)));
            out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(m));
        } else {
            out.printf(Locale.ROOT, "shattered gradients, %d-layer ReLU MLP of width %d, %d inputs along [-2, 2]%n", depth, width, points);
            out.println("autocorrelation of d output / d input at lags 1..5:");
            for (var e : lags.entrySet()) {
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-9s", e.getKey()));
                for (int k = 1; k <= Math.min(5, e.getValue().length - 1); k++) sb.append(String.format(Locale.ROOT, " %7.3f", e.getValue()[k]));
                out.println(sb);
            }
        }
        out.flush();
        return 0;
    }
}
