package dev.ballast.train.report;

import java.util.List;

/**
 * One finding about a run's gradients, in words: {@code kind} is one of exploding, vanishing, dead-units,
 * saturation, non-finite, underflow, skipped, healthy; {@code seen} says what was seen, with the numbers;
 * {@code cures} names what applies (empty for a healthy run).
 */
public record Finding(String kind, String seen, List<String> cures) {
    public Finding {
        cures = List.copyOf(cures);
    }

    /** The line {@code ballast train} prints: {@code diagnosis: <kind>: <seen>; cures: <list>}. */
    public String line() {
        return "diagnosis: " + kind + ": " + seen + (cures.isEmpty() ? "" : "; cures: " + String.join(", ", cures));
    }
}
