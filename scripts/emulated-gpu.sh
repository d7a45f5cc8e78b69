#!/usr/bin/env bash
# The CUDA backend on the emulated device (tools/fakecuda), for machines without a GPU (CI runs this):
#   1. builds the emulator into target/fakecuda (skips the whole stage, saying why, without g++ or the CUDA headers);
#   2. runs every `gpu`-tagged test of every module against it, with a fresh kernel cache, and fails when a test
#      fails or is skipped (a GPU test that cannot run here must shrink, not disappear);
#   3. runs `./ballast doctor` (also once with the toolkit laid out as pip installs it in a venv, found with no
#      setting) and `./ballast verify-reference FILE --device all` on every reference file, each with a fresh kernel
#      cache, and fails unless both the CPU and the CUDA backend ran every case.
#   4. runs scripts/gpu-check.sh prepare + run (what a session with a GPU runs) on one test class and one reference
#      file, as a smoke test of that script (left out when arguments select tests, or BALLAST_EMULATED_GPU_CHECK=0).
# Prints how many kernel modules each step compiled (more than zero: nothing came from an old cache).
# Usage: scripts/emulated-gpu.sh [extra Maven args for the test run, e.g. -Dtest=CudaParityTest]
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
CUDA_INCLUDE="${FAKECUDA_CUDA_INCLUDE:-/usr/local/cuda/include}"

if ! command -v g++ >/dev/null 2>&1; then
    echo "emulated GPU: skipped: g++ is not installed (the emulator and its kernels are built with it)"; exit 0
fi
if [[ ! -f "$CUDA_INCLUDE/cuda_fp16.h" || ! -f "$CUDA_INCLUDE/cuda.h" ]]; then
    echo "emulated GPU: skipped: no CUDA headers in $CUDA_INCLUDE (cuda.h, cuda_fp16.h: the kernels include them)"; exit 0
fi

start=$SECONDS
FAKE="$ROOT/target/fakecuda"
tools/fakecuda/build.sh "$FAKE" >/dev/null
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ballast-emulated.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# The toolkit (NVRTC, its builtins, cuBLAS) is found through BALLAST_CUDA_LIB_DIRS, off the loader path, like a pip wheel.
export LD_LIBRARY_PATH="$FAKE${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" BALLAST_CUDA_LIB_DIRS="$FAKE/toolkit" \
    FAKECUDA_HOME="$FAKE" FAKECUDA_BUILD="$WORK/fakecuda-build" FAKECUDA_LAUNCHED="$WORK/launched.txt"
echo "emulated GPU: stack built in $FAKE ($((SECONDS - start)) s)"

# Counts the compiled modules (.cubin files) a fresh cache folder holds.
modules() { find "$1/kernels" -name '*.cubin' 2>/dev/null | wc -l; }

# ---- gpu-tagged tests
rm -rf ./*/target/surefire-reports
t0=$SECONDS
cache="$WORK/cache-tests"
rc=0
scripts/test.sh -q -Dgroups=gpu,emulated-gpu -Dballast.test.excludedGroups=none -Dballast.test.requireGpu=true \
    -Dballast.cache.dir="$cache" -Dsurefire.failIfNoSpecifiedTests=false "$@" || rc=$?
# What ran, from the surefire reports: the tests the emulator cannot run (scripts/emulator-cannot-run.txt) are listed
# with the reason; any other skip fails the stage, as a failure does.
shopt -s nullglob
reports=(./*/target/surefire-reports/TEST-*.xml)
shopt -u nullglob
verdict=0
python3 scripts/gpu-test-verdict.py 1 scripts/emulator-cannot-run.txt "${reports[@]}" || verdict=$?
echo "emulated GPU tests: $((SECONDS - t0)) s, kernel modules compiled into a fresh cache: $(modules "$cache")"
# Which kernels the tests launched (each launch had its argument packing checked against the kernel's C types).
compiled=$(grep -ho '__bl_launch_[A-Za-z0-9_]*' "$FAKECUDA_BUILD"/*/*.gen.cpp 2>/dev/null | sed 's/__bl_launch_//' | sort -u)
launched=$(sort -u "$WORK/launched.txt" 2>/dev/null)
missing=$(comm -23 <(echo "$compiled") <(echo "$launched") | tr '\n' ' ')
echo "emulated GPU tests: $(comm -12 <(echo "$compiled") <(echo "$launched") | grep -c .) of $(echo "$compiled" | grep -c .) compiled kernels launched${missing:+; never launched: $missing}"
(( rc == 0 && verdict == 0 )) || { echo "emulated GPU: the gpu-tagged tests failed or were skipped (mvn exit $rc)"; exit 1; }
(( $(modules "$cache") > 0 )) || { echo "emulated GPU: no kernel module was compiled; the tests did not reach the device"; exit 1; }

# ---- the launcher on the emulated device
cache="$WORK/cache-doctor"
BALLAST_JAVA_OPTS="-Dballast.cache.dir=$cache" ./ballast doctor | tee "$WORK/doctor.txt"
grep -q '^backend: cuda' "$WORK/doctor.txt" || { echo "emulated GPU: doctor does not name the CUDA backend"; exit 1; }

# ---- the toolkit as pip installs it beside PyTorch, found with no setting: a venv whose bin/python3 is on PATH
# (not activated) and NVRTC, its builtins, cuBLAS and cublasLt in its site-packages/nvidia/cu13/lib
venv="$WORK/venv"
pylib="$venv/lib/python3.12/site-packages/nvidia/cu13/lib"
mkdir -p "$venv/bin" "$pylib"
ln -s "$(command -v python3)" "$venv/bin/python3"
cp "$FAKE"/toolkit/lib*.so* "$pylib/"
cache="$WORK/cache-pip"
env -u BALLAST_CUDA_LIB_DIRS PATH="$venv/bin:$PATH" BALLAST_JAVA_OPTS="-Dballast.cache.dir=$cache" ./ballast doctor > "$WORK/doctor-pip.txt"
grep -q '^backend: cuda' "$WORK/doctor-pip.txt" && grep -q "NVRTC: .*$pylib" "$WORK/doctor-pip.txt" \
    || { cat "$WORK/doctor-pip.txt"; echo "emulated GPU: the toolkit in a venv's nvidia/cu13/lib was not found without BALLAST_CUDA_LIB_DIRS"; exit 1; }
echo "emulated GPU: the pip layout (venv on PATH, nvidia/cu13/lib) is found with no setting: $(grep '^cuda.NVRTC' "$WORK/doctor-pip.txt")"

# ---- every PyTorch reference file on both backends
shopt -s nullglob
files=(cli/src/test/resources/reference/*.json)
(( ${#files[@]} > 0 )) || { echo "emulated GPU: no reference files under cli/src/test/resources/reference"; exit 1; }
for f in "${files[@]}"; do
    cache="$WORK/cache-$(basename "$f" .json)"
    t0=$SECONDS
    BALLAST_JAVA_OPTS="-Dballast.cache.dir=$cache" ./ballast verify-reference "$f" --device all | tee "$WORK/verify.txt"
    for dev in cpu cuda; do
        grep -Eq "^\S+ +$dev +passed" "$WORK/verify.txt" || { echo "emulated GPU: $f ran no case on $dev"; exit 1; }
    done
    grep -Eq ' 0 failed, 0 skipped$' "$WORK/verify.txt" || { echo "emulated GPU: $f had failed or skipped cases"; exit 1; }
    echo "emulated GPU: $(basename "$f"): $((SECONDS - t0)) s, kernel modules compiled into a fresh cache: $(modules "$cache")"
    (( $(modules "$cache") > 0 )) || { echo "emulated GPU: verify-reference compiled no kernel module"; exit 1; }
done
# ---- the GPU check a session with a GPU runs (scripts/gpu-check.sh prepare + run), as a smoke test of its packing
# (Java runtime, jar, staged tests), its JUnit console run and verdict, a reference file and the benchmarks: one test
# class and one reference file here, everything on a GPU. Left out when the stage runs a selection of tests
# (arguments given) or with BALLAST_EMULATED_GPU_CHECK=0.
if (( $# == 0 )) && [[ "${BALLAST_EMULATED_GPU_CHECK:-1}" != 0 ]]; then
    t0=$SECONDS
    scripts/gpu-check.sh prepare > "$WORK/gpu-check-prepare.log" 2>&1 || { cat "$WORK/gpu-check-prepare.log"; echo "emulated GPU: gpu-check prepare failed"; exit 1; }
    grep -ao 'gpu-check prepare: .gpu holds.*' "$WORK/gpu-check-prepare.log" || true
    GPU_CHECK_TESTS="--select-class dev.ballast.cuda.CudaBackendGpuTest" GPU_CHECK_REFERENCES=pytorch-clip-scaler-cases \
        OUT="$WORK/gpu-check" scripts/gpu-check.sh run > "$WORK/gpu-check.log" 2>&1 \
        || { cat "$WORK/gpu-check.log"; echo "emulated GPU: scripts/gpu-check.sh run failed"; exit 1; }
    sed -n '/^gpu-check summary/,/^-- /p' "$WORK/gpu-check.log" | grep -v '^-- '
    echo "emulated GPU: scripts/gpu-check.sh prepare + run (one test class, one reference file): $((SECONDS - t0)) s"
fi
echo "emulated GPU: passed in $((SECONDS - start)) s"
