package dev.ballast.engine.io;

import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.Optimizer;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The checkpoints of one run, kept in rotation: each save writes a step-numbered file next to the pointer path
 * ({@code c.safetensors} saves {@code c.step-00000020.safetensors}), then points {@code c.safetensors} at it (a
 * relative symbolic link replaced atomically; where the file system has no links, an atomic copy), then deletes all
 * but the newest {@code keep} step files. A save never goes backwards: it refuses (and keeps everything) when a tensor
 * is not finite ({@link NonFiniteTensorException}), and a kill at any point leaves the pointer on a complete file.
 * Step files numbered above the step being saved belong to a run that was started afresh over this one
 * (e.g. {@code ballast train --overwrite}) and are removed once the new run has saved a good checkpoint; stale
 * temporary files of killed saves are removed at each save ({@link AtomicFiles#removeStaleTemporaries}).
 */
public final class CheckpointFiles {
    private final Path pointer;
    private final int keep;
    private final Path dir;
    private final String stem;
    private final String ext;
    private final Pattern stepName;

    /** The checkpoints reached through {@code pointer}, keeping the newest {@code keep} (at least 1). */
    public CheckpointFiles(Path pointer, int keep) {
        if (keep < 1) throw new IllegalArgumentException("checkpoints: keep must be >= 1, got " + keep);
        this.pointer = pointer.toAbsolutePath().normalize();
        this.keep = keep;
        this.dir = this.pointer.getParent();
        String name = this.pointer.getFileName().toString();
        int dot = name.lastIndexOf('.');
        this.stem = dot > 0 ? name.substring(0, dot) : name;
        this.ext = dot > 0 ? name.substring(dot) : "";
        this.stepName = Pattern.compile(Pattern.quote(stem) + "\\.step-(\\d+)" + Pattern.quote(ext));
    }

    /** The path given (absolute): always the latest good checkpoint once one was saved. */
    public Path pointer() { return pointer; }

    public int keep() { return keep; }

    /** The file a save of {@code step} writes. */
    public Path stepFile(long step) { return dir.resolve(String.format("%s.step-%08d%s", stem, step, ext)); }

    /** The step files present, by step. */
    public TreeMap<Long, Path> stepFiles() throws IOException {
        TreeMap<Long, Path> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                Matcher m = stepName.matcher(p.getFileName().toString());
                if (m.matches()) {
                    try {
                        out.put(Long.parseLong(m.group(1)), p);
                    } catch (NumberFormatException ignored) {
                        // more digits than a step can have: not one of ours
                    }
                }
            }
        }
        return out;
    }

    /** Whether any checkpoint of this run exists (the pointer, even a dangling one, or a step file). */
    public boolean exists() throws IOException {
        return Files.exists(pointer, LinkOption.NOFOLLOW_LINKS) || !stepFiles().isEmpty();
    }

    /**
     * The checkpoint to resume from: the pointer when it leads to a file, else the newest step file (a kill between
     * writing a step file and moving the pointer leaves that file complete), else empty.
     */
    public Optional<Path> latest() throws IOException {
        if (Files.isRegularFile(pointer)) return Optional.of(pointer);
        TreeMap<Long, Path> steps = stepFiles();
        return steps.isEmpty() ? Optional.empty() : Optional.of(steps.lastEntry().getValue());
    }

    /**
     * Checks, before a run spends time training, that checkpoints can be written here: the directory exists or can
     * be made, is a directory and accepts a new file, and the pointer is not a directory. Throws IOException naming
     * the path and the problem.
     */
    public void checkWritable() throws IOException {
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.exists(p) && !Files.isDirectory(p))
                throw new IOException("checkpoint " + pointer + " cannot be written: " + p + " is a file, not a directory");
            if (Files.isDirectory(p)) break;
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("checkpoint " + pointer + " cannot be written: cannot create the directory " + dir + " ("
                    + e.getMessage() + ")", e);
        }
        if (Files.isDirectory(pointer)) throw new IOException("checkpoint " + pointer + " cannot be written: it is a directory");
        Path probe;
        try {
            probe = Files.createTempFile(dir, "." + pointer.getFileName() + "." + ProcessHandle.current().pid() + "-", ".tmp");
        } catch (IOException e) {
            throw new IOException("checkpoint " + pointer + " cannot be written: the directory " + dir + " does not accept new files ("
                    + e.getMessage() + ")", e);
        }
        Files.deleteIfExists(probe);
    }

    /**
     * Saves a checkpoint of {@code step} ({@link Checkpoint#save(Path, Map, Optimizer, long, Generator, Map, Map)}: extra
     * tensors and extra metadata), points the pointer at it and rotates; returns the step file written. Nothing changes
     * when the save fails.
     */
    public Path save(Map<String, Tensor> model, Optimizer opt, long step, Generator gen, Map<String, Tensor> extra,
                     Map<String, String> meta) throws IOException {
        AtomicFiles.removeStaleTemporaries(dir, this::isOurs);
        CrashHook.beforeSave(step);
        Path file = stepFile(step);
        Checkpoint.save(file, model, opt, step, gen, extra, meta);
        point(file);
        TreeMap<Long, Path> steps = stepFiles();
        List<Path> drop = new ArrayList<>(steps.tailMap(step, false).values()); // an abandoned run's later files
        List<Path> older = new ArrayList<>(steps.headMap(step, true).values());
        for (int i = 0; i < older.size() - keep; i++) drop.add(older.get(i));
        for (Path p : drop) Files.deleteIfExists(p);
        return file;
    }

    /** Whether a file name is this run's pointer or one of its step files. */
    private boolean isOurs(String name) {
        return name.equals(pointer.getFileName().toString()) || stepName.matcher(name).matches();
    }

    /** Replaces the pointer with a link to {@code file} atomically (a copy where links are not supported). */
    private void point(Path file) throws IOException {
        Path tmp = dir.resolve("." + pointer.getFileName() + "." + ProcessHandle.current().pid() + "-0.tmp");
        Files.deleteIfExists(tmp);
        try {
            Files.createSymbolicLink(tmp, file.getFileName());
        } catch (UnsupportedOperationException | FileSystemException e) {
            Files.deleteIfExists(tmp);
            Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        try {
            Files.move(tmp, pointer, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        AtomicFiles.forceDirectory(dir);
    }
}
