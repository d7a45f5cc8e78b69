package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ballast train} health flags on tiny runs: diagnosis of a diverging RNN, the guard saving it, and bad flags. */
class TrainHealthTest {
    /** A tiny tanh RNN with SGD lr 3 and momentum: it diverges within 20 steps. */
    private static final String[] DIVERGING = {"train", "--task", "adding", "--model", "rnn", "--hidden", "16", "--seq-len", "10",
            "--optimizer", "sgd", "--lr", "3", "--momentum", "0.9", "--steps", "60", "--train-size", "512", "--test-size", "64",
            "--batch", "32", "--log-every", "5", "--clip", "0", "--device", "cpu"};

    @TempDir Path dir;

    private static String[] with(String... more) {
        List<String> all = new java.util.ArrayList<>(List.of(DIVERGING));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    @Test void divergedRunPrintsDiagnosisLinesAndWritesFindings() throws Exception {
        Path metrics = dir.resolve("m.jsonl");
        Run r = Run.of(with("--metrics", metrics.toString()));
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("training diverged"), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("diagnosis: exploding: the global gradient norm grew from .*; cures: gradient-norm clipping at about .*")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("diagnosis: non-finite: ")), r.out());
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> findings = Files.readAllLines(metrics).stream().map(l -> {
            try { return json.readTree(l); } catch (Exception e) { throw new AssertionError(l, e); }
        }).filter(n -> n.has("finding")).toList();
        assertTrue(findings.stream().anyMatch(n -> n.get("finding").asText().equals("exploding") && n.get("suggested_clip").isNumber()
                && n.get("cures").isArray()), findings.toString());
        assertTrue(Files.readAllLines(metrics).stream().anyMatch(l -> l.contains("\"health\":{\"rnn.weight_ih_l0\":{\"grad_norm\"")),
                "per-parameter statistics on the logged lines");
    }

    @Test void guardKeepsTheRunFiniteAndCountsItsEvents() {
        Run r = Run.of(with("--guard", "rollback,backoff:0.1:20"));
        assertEquals(0, r.exitCode(), r.out() + r.err());
        assertTrue(r.err().contains("guard: step "), r.err());
        assertTrue(r.out().matches("(?s).*guard events: [1-9].*"), r.out());
        assertTrue(r.out().matches("(?s).*guard steps applied: \\d+ of 60 .*"), r.out());
        double loss = Double.parseDouble(r.out().lines().filter(l -> l.startsWith("final train loss: ")).findFirst().orElseThrow().substring(18));
        assertTrue(Double.isFinite(loss), r.out());
    }

    @Test void badGuardAndMonitorValuesAreUsageErrors() {
        Run r = Run.of(with("--guard", "explode"));
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("'explode' is not a policy; allowed: skip, backoff:F:N"), r.err());
        r = Run.of(with("--monitor-every", "-1"));
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("monitor-every must be >= 0"), r.err());
    }
}
