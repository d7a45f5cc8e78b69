package dev.ballast.cli;

import dev.ballast.engine.Device;
import dev.ballast.stability.reference.ReferenceCases;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ballast verify-reference FILE.json [--device cpu|cuda|all]}: replays PyTorch reference cases
 * (clip, clip_value, scaler, chain) through the real code path on each chosen backend, one line per case and backend,
 * then {@code N passed, M failed, K skipped}. Exit 0 when nothing failed, 1 when a case failed, 2 for a usage
 * error or an unreadable file.
 */
@Command(name = "verify-reference", mixinStandardHelpOptions = true,
        description = "Replay PyTorch reference cases (gradient clipping, value clipping, loss scaling, gradient chains) on each backend.")
public final class VerifyReferenceCommand implements Callable<Integer> {

    @Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE.json", description = "Reference cases, e.g. pytorch-clip-scaler-cases.json")
    Path file;

    @Option(names = "--device", defaultValue = "all", description = "cpu, cuda or all available (default: ${DEFAULT-VALUE})")
    String device;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        List<Device> devices = new ArrayList<>();
        switch (device.toLowerCase()) {
            case "all" -> {
                for (Device.Status s : Device.statuses()) if (s.available()) devices.add(Device.named(s.name()));
            }
            case "cpu", "cuda" -> {
                try {
                    devices.add(Device.named(device.toLowerCase()));
                } catch (IllegalStateException e) {
                    err.println("verify-reference: " + e.getMessage());
                    return 2;
                }
            }
            default -> {
                err.println("verify-reference: unknown --device '" + device + "'; allowed: cpu, cuda, all");
                return 2;
            }
        }
        if (!Files.isReadable(file)) {
            err.println("verify-reference: cannot read " + file);
            return 2;
        }
        ReferenceCases cases;
        try {
            cases = ReferenceCases.read(file);
        } catch (IOException e) {
            err.println("verify-reference: " + e.getMessage());
            return 2;
        }
        int passed = 0, failed = 0, skipped = 0;
        for (ReferenceCases.Case c : cases.cases()) {
            for (Device d : devices) {
                ReferenceCases.Result r = cases.replay(c, d);
                out.printf("%-16s %-5s %-7s %s%n", c.name(), d.name(), r.status().name().toLowerCase(), r.detail());
                switch (r.status()) {
                    case PASSED -> passed++;
                    case FAILED -> failed++;
                    case SKIPPED -> skipped++;
                }
            }
        }
        out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        out.flush();
        return failed == 0 ? 0 : 1;
    }
}
