package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library discovery without a GPU: pip's NVIDIA wheels in the Python environments in sight, and companion preloads. */
class CudaLibrariesTest {
    @TempDir Path tmp;

    private List<Path> underTmp(Map<String, String> env) {
        return CudaLibraries.pipLibraryDirs(env).stream().filter(d -> d.startsWith(tmp)).toList();
    }

    @Test
    void pipWheelsOfThePythonOnPathAreFoundWithoutAnActivatedVenv() throws Exception {
        // The GPU machine's layout: python3 on PATH is /opt/torch/.venv/bin/python3; NVRTC/cuBLAS 13 in nvidia/cu13/lib.
        Path venv = tmp.resolve("opt/torch/.venv");
        Files.createDirectories(venv.resolve("bin"));
        Files.createFile(venv.resolve("bin/python3"));
        Path site = venv.resolve("lib/python3.12/site-packages/nvidia");
        Path cu13 = Files.createDirectories(site.resolve("cu13/lib"));
        Path nccl = Files.createDirectories(site.resolve("nccl/lib"));
        Files.createDirectories(site.resolve("cudnn/include")); // a package without lib/ is not a library folder
        Path user = Files.createDirectories(tmp.resolve("home/.local/lib/python3.11/site-packages/nvidia/cublas/lib"));
        Path fromPythonPath = Files.createDirectories(tmp.resolve("pp/nvidia/cuda_nvrtc/lib"));
        Files.createDirectories(tmp.resolve("nopython/bin"));

        List<Path> dirs = underTmp(Map.of("PATH", tmp.resolve("nopython/bin") + ":" + venv.resolve("bin"),
                "HOME", tmp.resolve("home").toString(), "PYTHONPATH", tmp.resolve("pp").toString()));
        assertEquals(List.of(fromPythonPath, cu13, nccl, user), dirs, "PYTHONPATH first, then the PATH python's venv, then the user site");
    }

    @Test
    void virtualEnvAndCondaPrefixAreSearchedAndNothingElseIsInvented() throws Exception {
        Path env1 = Files.createDirectories(tmp.resolve("venv/lib64/python3.10/dist-packages/nvidia/cu13/lib"));
        Path env2 = Files.createDirectories(tmp.resolve("conda/lib/python3.13/site-packages/nvidia/cublas/lib"));
        assertEquals(List.of(env1, env2), underTmp(Map.of("VIRTUAL_ENV", tmp.resolve("venv").toString(),
                "CONDA_PREFIX", tmp.resolve("conda").toString())));
        assertEquals(List.of(), underTmp(Map.of("PATH", tmp.toString(), "HOME", tmp.resolve("nobody").toString())));
    }

    @Test
    void aCompanionThatCannotBeLoadedIsSkippedQuietly() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lib"));
        assertEquals(List.of(), CudaLibraries.preloadCompanions("libcublas.so.13", dir), "no libcublasLt.so.13 there");
        Files.writeString(dir.resolve("libcublasLt.so.13"), "not an ELF file");
        assertEquals(List.of(), CudaLibraries.preloadCompanions("libcublas.so.13", dir), "present but not loadable");
        assertTrue(CudaLibraries.preloadCompanions("libcuda.so.1", dir).isEmpty(), "the driver has no companions here");
    }
}
