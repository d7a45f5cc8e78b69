package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk cache's keying and reuse, with a fake compiler (no GPU or NVRTC needed). */
class KernelCacheTest {
    @TempDir Path tmp;

    private final AtomicInteger calls = new AtomicInteger();
    private final KernelCache.Compiler fake = (src, name, headers, opts) -> {
        calls.incrementAndGet();
        if (src.contains("syntax error")) throw new IllegalStateException("could not compile " + name + ": log says syntax error");
        return (name + "|" + String.join(" ", opts) + "|" + src.hashCode()).getBytes(StandardCharsets.UTF_8);
    };

    @Test
    void compilesOnceThenReadsFromDisk() {
        var a = new KernelCache(fake, "sm_90", "nvrtc 13.0", List.of("-std=c++17"), tmp);
        byte[] first = a.cubin("k.cu", "source text", Map.of("common.cuh", "h"));
        assertEquals(1, calls.get());
        var b = new KernelCache(fake, "sm_90", "nvrtc 13.0", List.of("-std=c++17"), tmp);
        assertArrayEquals(first, b.cubin("k.cu", "source text", Map.of("common.cuh", "h")));
        assertEquals(1, calls.get(), "second process-level cache read the file instead of compiling");
        assertEquals(0, b.compiles());
        assertTrue(new String(first, StandardCharsets.UTF_8).contains("--gpu-architecture=sm_90"));
    }

    @Test
    void keyChangesWithSourceHeaderOptionsArchAndCompiler() {
        var base = new KernelCache(fake, "sm_90", "nvrtc 13.0", List.of(), tmp);
        String k = base.key("s", Map.of("h", "1"));
        assertNotEquals(k, base.key("s2", Map.of("h", "1")));
        assertNotEquals(k, base.key("s", Map.of("h", "2")));
        assertNotEquals(k, new KernelCache(fake, "sm_80", "nvrtc 13.0", List.of(), tmp).key("s", Map.of("h", "1")));
        assertNotEquals(k, new KernelCache(fake, "sm_90", "nvrtc 12.8", List.of(), tmp).key("s", Map.of("h", "1")));
        assertNotEquals(k, new KernelCache(fake, "sm_90", "nvrtc 13.0", List.of("-G"), tmp).key("s", Map.of("h", "1")));
        assertEquals(64, k.length());
    }

    @Test
    void compileErrorPropagatesAndCachesNothing() throws Exception {
        var c = new KernelCache(fake, "sm_90", "v", List.of(), tmp);
        var e = assertThrows(IllegalStateException.class, () -> c.cubin("bad.cu", "syntax error", Map.of()));
        assertTrue(e.getMessage().contains("bad.cu"));
        try (var files = Files.list(tmp)) { assertEquals(0, files.count()); }
    }

    @Test
    void defaultDirHonoursProperty() {
        String old = System.getProperty(KernelCache.CACHE_DIR_PROPERTY);
        System.setProperty(KernelCache.CACHE_DIR_PROPERTY, tmp.toString());
        try {
            assertEquals(tmp.resolve("kernels"), KernelCache.defaultDir());
        } finally {
            if (old == null) System.clearProperty(KernelCache.CACHE_DIR_PROPERTY); else System.setProperty(KernelCache.CACHE_DIR_PROPERTY, old);
        }
    }

    @Test
    void everyKernelResourceIsOnTheClassPath() {
        for (String f : KernelSources.FILES) assertTrue(KernelSources.read(f).contains("#include \"common.cuh\""), f);
    }
}
