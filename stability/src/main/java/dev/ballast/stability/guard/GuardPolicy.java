package dev.ballast.stability.guard;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the guard does about a spike or a non-finite value. A closed set: {@link Skip} the step, {@link Backoff} (the
 * learning rate times {@code factor} from the event on, cuts compounding, one cut undone after every {@code steps} quiet steps), {@link Rollback} (restore the last good snapshot and
 * skip the offending batch). Parsed from {@code skip}, {@code backoff:F:N}, {@code rollback}, comma-separated.
 */
public sealed interface GuardPolicy {
    record Skip() implements GuardPolicy {}

    record Backoff(double factor, long steps) implements GuardPolicy {
        public Backoff {
            if (!(factor > 0 && factor < 1)) throw new IllegalArgumentException("backoff factor must be in (0, 1), got " + factor);
            if (steps < 1) throw new IllegalArgumentException("backoff steps must be >= 1, got " + steps);
        }
    }

    record Rollback() implements GuardPolicy {}

    String ALLOWED = "skip, backoff:F:N (lr times F in (0,1) per event, one cut undone per N quiet steps; backoff alone is backoff:0.5:100), rollback";

    /** Parses a comma-separated list such as {@code rollback,backoff:0.5:100}; throws naming what is allowed. */
    static List<GuardPolicy> parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("guard: no policy given; allowed: " + ALLOWED);
        List<GuardPolicy> out = new ArrayList<>();
        for (String raw : spec.split(",")) {
            String p = raw.strip().toLowerCase(Locale.ROOT);
            String[] parts = p.split(":");
            GuardPolicy g = switch (parts[0]) {
                case "skip" -> parts.length == 1 ? new Skip() : null;
                case "rollback" -> parts.length == 1 ? new Rollback() : null;
                case "backoff" -> switch (parts.length) {
                    case 1 -> new Backoff(0.5, 100);
                    case 3 -> {
                        try {
                            yield new Backoff(Double.parseDouble(parts[1]), Long.parseLong(parts[2]));
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("guard: '" + raw.strip() + "': factor and steps must be numbers; allowed: " + ALLOWED);
                        }
                    }
                    default -> null;
                };
                default -> null;
            };
            if (g == null) throw new IllegalArgumentException("guard: '" + raw.strip() + "' is not a policy; allowed: " + ALLOWED);
            if (out.stream().anyMatch(x -> x.getClass() == g.getClass()))
                throw new IllegalArgumentException("guard: policy '" + parts[0] + "' given twice in '" + spec + "'");
            out.add(g);
        }
        return List.copyOf(out);
    }
}
