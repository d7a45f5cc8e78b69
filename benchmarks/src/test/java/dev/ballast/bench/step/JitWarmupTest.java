package dev.ballast.bench.step;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class JitWarmupTest {

    @Test void withoutWaitingForTheJitItRunsExactlyTheMinimumSteps() {
        AtomicInteger calls = new AtomicInteger();
        JitWarmup.Outcome o = JitWarmup.run(calls::incrementAndGet, 5, 0, false, 60);
        assertEquals(5, o.steps());
        assertEquals(5, calls.get());
        assertTrue(o.quiet());
    }

    @Test void waitingForTheJitRunsWholeQuietWindowsAfterTheMinimum() {
        AtomicInteger calls = new AtomicInteger();
        // a trivial step: the JIT has nothing left to compile for it after a few windows
        JitWarmup.Outcome o = JitWarmup.run(calls::incrementAndGet, 3, 0, true, 60);
        assertEquals(calls.get(), o.steps());
        assertTrue(o.quiet(), "a trivial loop should leave the JIT idle well within 60 s: " + o);
        assertTrue(o.seconds() >= JitWarmup.QUIET_WINDOWS * JitWarmup.WINDOW_SECONDS, "at least the quiet windows: " + o);
    }

    @Test void waitingForTheJitRunsAtLeastTheCallsThatOfferAMethodToC2() {
        int c2 = JitWarmup.c2Steps();
        assertTrue(c2 > 0, "HotSpot reports its C2 invocation threshold: " + c2);
        AtomicInteger calls = new AtomicInteger();
        JitWarmup.Outcome o = JitWarmup.run(calls::incrementAndGet, 1, 0, true, 60);
        assertTrue(o.steps() >= c2, "a method called once per step reaches C2 only after " + c2 + " steps: " + o);
        assertEquals(calls.get(), o.steps());
    }

    @Test void theCapEndsAWarmUpWhoseJitNeverGoesQuiet() {
        // a cap below one window: the loop runs one window and stops without ever seeing QUIET_WINDOWS quiet ones
        JitWarmup.Outcome o = JitWarmup.run(() -> { }, 1, 0, true, 0.2);
        assertFalse(o.quiet(), o.toString());
        assertTrue(o.seconds() < 5, o.toString());
    }
}
