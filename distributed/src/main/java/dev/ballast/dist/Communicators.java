package dev.ballast.dist;

import dev.ballast.dist.mpi.MpiCommunicator;
import dev.ballast.dist.nccl.NcclCommunicator;
import dev.ballast.dist.nccl.NcclException;
import dev.ballast.engine.Device;
import java.util.function.Consumer;
import dev.ballast.engine.dist.Communicator;
import java.util.List;
import java.util.Map;

/**
 * Picks the communicator of this process from how it was launched: under {@code mpirun}/{@code mpiexec} (Open MPI
 * sets {@code OMPI_COMM_WORLD_SIZE}) or under SLURM's {@code srun --mpi=pmix} ({@code PMIX_RANK}) it joins MPI;
 * otherwise it is the {@link Communicator#single() single process}. For CUDA tensors {@link #forDevice} adds NCCL.
 */
public final class Communicators {
    /** Variables a launcher sets in every rank's environment; the first one present decides. */
    static final List<String> LAUNCHER_VARIABLES = List.of("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK");

    private Communicators() {}

    /** True when an MPI launcher started this process. */
    public static boolean launchedByMpi() { return launchedByMpi(System.getenv()); }

    static boolean launchedByMpi(Map<String, String> env) {
        for (String v : LAUNCHER_VARIABLES) if (env.containsKey(v)) return true;
        return false;
    }

    /**
     * Ranks of this job on this machine, from the launcher's environment (Open MPI: OMPI_COMM_WORLD_LOCAL_SIZE;
     * SLURM: SLURM_NTASKS_PER_NODE); 1 when not launched by one or not said.
     */
    public static int localRanks() { return localRanks(System.getenv()); }

    static int localRanks(Map<String, String> env) {
        for (String v : List.of("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE")) {
            try {
                int n = Integer.parseInt(env.getOrDefault(v, "").strip());
                if (n > 0) return n;
            } catch (NumberFormatException ignored) {
                // absent or not a number (SLURM may write "2(x3)"): try the next
            }
        }
        return 1;
    }

    /**
     * The communicator for tensors on {@code device}: NCCL bootstrapped over {@code base} when the device is CUDA, the
     * job has several ranks and NCCL loads; otherwise {@code base} itself (MPI then carries CUDA tensors through host
     * memory). {@code note} hears why NCCL was not used. The caller closes the result if it is not {@code base}, then
     * {@code base}.
     */
    public static Communicator forDevice(Communicator base, Device device, Consumer<String> note) {
        if (base.size() == 1 || !device.name().equals("cuda")) return base;
        try {
            return NcclCommunicator.create(base, device);
        } catch (NcclException e) {
            note.accept(e.getMessage() + "; gradients go through " + base.name() + " in host memory instead");
            return base;
        }
    }

    /** Lines for {@code ballast doctor}: whether Open MPI and NCCL load, and whether a launcher started this process. */
    public static List<String> statusLines() {
        String nccl;
        try {
            nccl = dev.ballast.dist.nccl.Nccl.load().map(n -> "available: " + n.version())
                    .orElse("unavailable (" + dev.ballast.dist.nccl.Nccl.SONAME + " not found; data-parallel CUDA runs go through MPI)");
        } catch (RuntimeException | LinkageError e) {
            nccl = "unavailable (" + e.getMessage() + ")";
        }
        return List.of("mpi: " + MpiCommunicator.availability(),
                "nccl: " + nccl,
                "launched by mpirun/srun: " + (launchedByMpi() ? "yes, " + localRanks() + " ranks on this node" : "no"));
    }

    /** MPI when an MPI launcher started this process, else the single process. */
    public static Communicator fromEnvironment() {
        return launchedByMpi() ? MpiCommunicator.open() : Communicator.single();
    }
}
