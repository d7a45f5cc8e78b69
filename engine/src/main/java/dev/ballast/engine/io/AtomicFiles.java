package dev.ballast.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a file so that readers see either the old file or the complete new one: the bytes go to a temporary
 * file in the same directory, are forced to disk, and the temporary file is renamed over the target atomically.
 * The temporary file is removed when anything fails. Temporary files are named {@code .NAME.<pid>-<n>.tmp}
 * (the writing process's id), so a later write can tell a stale one (its process is gone: it was killed during a
 * write) from one being written right now, and {@link #removeStaleTemporaries} removes the stale ones.
 */
public final class AtomicFiles {
    /** {@code .NAME.<pid>-<n>.tmp}, and the {@code .NAME.<n>.tmp} of earlier builds (no pid). */
    private static final Pattern TEMP = Pattern.compile("^\\.(.+)\\.(?:(\\d+)-)?\\d+\\.tmp$");

    private AtomicFiles() {}

    /** Writes {@code chunks} in order to {@code target}, atomically. */
    public static void write(Path target, List<ByteBuffer> chunks) throws IOException {
        write(target, chunks, null);
    }

    /**
     * As {@link #write(Path, List)}; {@code midWrite} (may be null) runs after half of the chunks are written and
     * forced to disk, before the rest: the place a crash test kills the process.
     */
    static void write(Path target, List<ByteBuffer> chunks, Runnable midWrite) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + "." + ProcessHandle.current().pid() + "-", ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                for (int i = 0; i < chunks.size(); i++) {
                    if (midWrite != null && i == Math.max(1, chunks.size() / 2)) {
                        ch.force(true);
                        midWrite.run();
                    }
                    ByteBuffer d = chunks.get(i).duplicate();
                    while (d.hasRemaining()) ch.write(d);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot write " + target + " atomically: the file system does not support atomic rename ("
                        + e.getMessage() + ")", e);
            }
            done = true;
            forceDirectory(dir);
        } finally {
            if (!done) Files.deleteIfExists(tmp);
        }
    }

    /**
     * Removes temporary files of this class's naming in {@code dir} whose target name passes {@code target} and
     * whose writing process no longer runs (or that carry no process id); returns the files removed. Temporary files
     * of a live process, including this one, are left alone: they may be being written.
     */
    public static List<Path> removeStaleTemporaries(Path dir, Predicate<String> target) throws IOException {
        List<Path> removed = new ArrayList<>();
        if (dir == null || !Files.isDirectory(dir)) return removed;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path p : ds) {
                Matcher m = TEMP.matcher(p.getFileName().toString());
                if (!m.matches() || !target.test(m.group(1)) || !Files.isRegularFile(p)) continue;
                if (m.group(2) != null && isAlive(m.group(2))) continue;
                if (Files.deleteIfExists(p)) removed.add(p);
            }
        }
        return removed;
    }

    private static boolean isAlive(String pid) {
        try {
            return ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return false; // not a pid this platform can have: nobody is writing it
        }
    }

    /** Makes the rename durable where the platform lets a directory be fsync'd (Linux does); elsewhere a no-op. */
    static void forceDirectory(Path dir) {
        if (dir == null) return;
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not supported on this platform: the rename itself is still atomic
        }
    }
}
