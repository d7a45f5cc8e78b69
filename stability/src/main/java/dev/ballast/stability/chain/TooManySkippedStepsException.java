package dev.ballast.stability.chain;

/**
 * The chain skipped more steps in a row than its limit allows ({@code GradientChain.maxConsecutiveSkips}); thrown
 * when the step statistics are read, naming the step at which the limit was reached and the first parameter whose
 * gradient was not finite at that step.
 */
public final class TooManySkippedStepsException extends IllegalStateException {
    private final long step;
    private final int parameterIndex;

    TooManySkippedStepsException(long step, int limit, int parameterIndex, String parameter) {
        super("step " + step + " was the " + limit + ordinal(limit) + " skipped step in a row (limit " + limit + "); "
                + (parameter != null ? "first non-finite gradient: " + parameter
                : "every gradient entering the chain was finite (a link asked to skip)"));
        this.step = step;
        this.parameterIndex = parameterIndex;
    }

    private static String ordinal(int n) {
        if (n % 100 >= 11 && n % 100 <= 13) return "th";
        return switch (n % 10) { case 1 -> "st"; case 2 -> "nd"; case 3 -> "rd"; default -> "th"; };
    }

    /** The chain step (1 for the first) at which the limit was reached. */
    public long step() { return step; }

    /** The first parameter whose gradient was not finite at that step, or -1. */
    public int parameterIndex() { return parameterIndex; }
}
