package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class WatchdogTest {
    @Test
    void aCollectiveThatWaitsPastTheTimeoutIsReportedWithRankAndCall() throws Exception {
        List<String> fired = new CopyOnWriteArrayList<>();
        try (Watchdog w = new Watchdog(Duration.ofMillis(200), "rank 1 of 2", fired::add)) {
            try (Watchdog.Guard g = w.enter("MPI_Allreduce")) {
                long until = System.nanoTime() + 5_000_000_000L;
                while (fired.isEmpty() && System.nanoTime() < until) Thread.sleep(20);
            }
        }
        assertEquals(1, fired.size(), fired.toString());
        assertTrue(fired.getFirst().contains("rank 1 of 2: MPI_Allreduce has waited"), fired.getFirst());
        assertTrue(fired.getFirst().contains(Watchdog.TIMEOUT_ENV), fired.getFirst());
    }

    @Test
    void collectivesThatFinishInTimeAreNotReported() throws Exception {
        List<String> fired = new CopyOnWriteArrayList<>();
        try (Watchdog w = new Watchdog(Duration.ofMillis(300), "rank 0 of 2", fired::add)) {
            for (int i = 0; i < 20; i++) {
                try (Watchdog.Guard g = w.enter("MPI_Barrier")) {
                    Thread.sleep(20);
                }
            }
            Thread.sleep(500); // idle time between collectives does not count
        }
        assertTrue(fired.isEmpty(), fired.toString());
    }
}
