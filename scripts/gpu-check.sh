#!/usr/bin/env bash
# The GPU check in two halves, because the GPU machine has no Java and no Maven and only carried paths travel:
#
#   scripts/gpu-check.sh prepare   (here) builds the project and packs into .gpu/ (git-ignored, under the 64 MiB
#                                  carry limit): a jlink'd Java 25 runtime, the ballast jar (every module's classes
#                                  and runtime jars), every module's test classes, the test-only jars and the JUnit
#                                  console launcher, and the PyTorch reference files.
#   scripts/gpu-check.sh run       (there, or here against the emulated device) runs, each step with a time limit
#                                  and all of them within one budget (GPU_CHECK_BUDGET_S, default 420 s): doctor;
#                                  every gpu-tagged test (they size themselves from the device: full on a GPU,
#                                  small on the emulator) with a fresh kernel cache; verify-reference --device all on
#                                  every reference file; bench matmul, ops and clip with PyTorch beside when python3
#                                  has it. All output goes to one folder ($OUT on the device machine, else
#                                  target/gpu-check) and ends with a summary table (summary.txt); exit 0 only when
#                                  every step passed. GPU_CHECK_TESTS (JUnit selectors) and GPU_CHECK_REFERENCES (a
#                                  file-name glob) narrow the tests and reference files, for a smoke test.
#
# On a session that has a GPU, after `prepare` here:
#   run(command="bash scripts/gpu-check.sh run", carry=[".gpu"], timeout_s=540)
# Here, against the emulated device (what CI's emulated stage builds; see README "GPU tests without a GPU"):
#   tools/fakecuda/build.sh target/fakecuda
#   LD_LIBRARY_PATH=$PWD/target/fakecuda BALLAST_CUDA_LIB_DIRS=$PWD/target/fakecuda/toolkit FAKECUDA_HOME=$PWD/target/fakecuda \
#   FAKECUDA_BUILD=$PWD/target/fakecuda/kernels scripts/gpu-check.sh run
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
PACK="$ROOT/.gpu"
JUNIT_CONSOLE="org.junit.platform:junit-platform-console-standalone:1.11.4" # the platform of junit-bom 5.11.4 (pom.xml)

prepare() {
    # shellcheck source=find-jdk.sh
    source scripts/find-jdk.sh
    local jdk; jdk="$(ballast_find_jdk)"
    export JAVA_HOME="$jdk" MAVEN_OPTS; MAVEN_OPTS="$(ballast_maven_opts "$jdk")"
    local t0=$SECONDS
    rm -rf "$PACK"; mkdir -p "$PACK/stage/lib" "$PACK/stage/classes" "$PACK/reference"
    # The jar through the launcher (it rebuilds only when sources are newer); every module's test classes compiled
    # and the test-scope jars copied in one Maven run without packaging (the project's own modules are in the jar).
    echo "gpu-check prepare: building (the ballast jar if stale, test classes; no test is run)"
    ./ballast --version > /dev/null
    local mvnargs=(-q -B -Dstyle.color=never test-compile dependency:copy-dependencies -DincludeScope=test -DexcludeGroupIds=dev.ballast
        -DoutputDirectory="$PACK/stage/lib" -Dmdep.prependGroupId=true)
    mvn -o "${mvnargs[@]}" || mvn "${mvnargs[@]}"
    local console=(-q -B -N -Dstyle.color=never dependency:copy -Dartifact="$JUNIT_CONSOLE" -DoutputDirectory="$PACK/stage" -Dmdep.stripVersion=true)
    mvn -o "${console[@]}" || mvn "${console[@]}"
    cp cli/target/ballast.jar "$PACK/ballast.jar"
    # The launcher bundles the platform and the Jupiter engine; the ballast jar holds every module's classes and
    # runtime jars: keep only the jars whose classes it lacks (the test-only ones), so nothing travels twice.
    rm -f "$PACK"/stage/lib/org.junit.platform.* "$PACK"/stage/lib/org.junit.jupiter.junit-jupiter-engine-* "$PACK"/stage/lib/*ballast*
    python3 - "$PACK/ballast.jar" "$PACK"/stage/lib/*.jar <<'EOF'
import os, re, sys, zipfile
fat = set(zipfile.ZipFile(sys.argv[1]).namelist())
# What a shaded jar does not merge: manifests, signatures, licences, Maven metadata, versioned copies, module-info.
skip = re.compile(r'(^META-INF/(MANIFEST\.MF|maven/|versions/|[^/]*\.(SF|RSA|DSA)$|[^/]*(LICENSE|NOTICE|DEPENDENCIES)[^/]*$|INDEX\.LIST))|module-info\.class$')
for jar in sys.argv[2:]:
    files = [n for n in zipfile.ZipFile(jar).namelist() if not n.endswith('/') and not skip.search(n)]
    if files and all(f in fat for f in files):
        os.remove(jar)
EOF
    for dir in */target/test-classes; do
        [[ -d "$dir" ]] || continue
        mkdir -p "$PACK/stage/classes/${dir%%/*}-test-classes"
        cp -r "$dir/." "$PACK/stage/classes/${dir%%/*}-test-classes/"
    done
    cp cli/src/test/resources/reference/*.json "$PACK/reference/"
    "$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.management,java.logging,java.xml,java.naming,java.net.http,jdk.crypto.ec \
        --strip-debug --no-header-files --no-man-pages --output "$PACK/jre.tmp" >/dev/null
    # xz at a low preset on every core: the default preset took minutes on a busy 2-core machine for ~1 MiB gained.
    XZ_OPT="-2 -T0" tar -C "$PACK" -cJf "$PACK/jre.tar.xz" --transform 's/^jre.tmp/jre/' jre.tmp
    rm -rf "$PACK/jre.tmp"
    git rev-parse HEAD > "$PACK/commit" 2>/dev/null || true
    local size; size=$(du -sm "$PACK" | cut -f1)
    echo
    echo "gpu-check prepare: .gpu holds ${size} MiB in $((SECONDS - t0)) s (carry limit 64 MiB with the working tree): runtime $(du -h "$PACK/jre.tar.xz" | cut -f1)," \
        "jar $(du -h "$PACK/ballast.jar" | cut -f1), $(find "$PACK/stage/classes" -name '*Test.class' | wc -l) test classes, $(ls "$PACK/stage/lib" | wc -l) test-only jars, $(ls "$PACK/reference" | wc -l) reference files"
    (( size < 56 )) || { echo "gpu-check prepare: .gpu is ${size} MiB; with the working tree it must stay under the 64 MiB carry limit" >&2; exit 1; }
    echo "next, on a session with a GPU: run(command=\"bash scripts/gpu-check.sh run\", carry=[\".gpu\"], timeout_s=540)"
}

# The Java runtime: the packed one (unpacked once into /tmp), else JAVA_HOME's.
java_home() {
    if [[ -f "$PACK/jre.tar.xz" ]]; then
        local sum jre; sum=$(cksum < "$PACK/jre.tar.xz" | cut -d' ' -f1); jre="${TMPDIR:-/tmp}/ballast-jre-$sum"
        if [[ ! -x "$jre/bin/java" ]]; then
            rm -rf "$jre.part"; mkdir -p "$jre.part"
            tar -C "$jre.part" -xJf "$PACK/jre.tar.xz" 2>/dev/null \
                || python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$PACK/jre.tar.xz" "$jre.part"
            rm -rf "$jre"; mv "$jre.part/jre" "$jre"; rm -rf "$jre.part"
        fi
        echo "$jre"
    elif [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME"
    else echo "gpu-check run: no .gpu/jre.tar.xz (run 'scripts/gpu-check.sh prepare' first) and no JAVA_HOME" >&2; exit 2
    fi
}

run() {
    [[ -f "$PACK/ballast.jar" && -d "$PACK/stage" ]] || { echo "gpu-check run: .gpu is missing or incomplete; run 'scripts/gpu-check.sh prepare' here first and carry .gpu" >&2; exit 2; }
    local out="${OUT:-$ROOT/target/gpu-check}" start=$SECONDS budget="${GPU_CHECK_BUDGET_S:-420}"
    mkdir -p "$out"
    local jh; jh="$(java_home)"
    export JAVA_HOME="$jh" PATH="$jh/bin:$PATH"
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64:/usr/local/nvidia/lib64"
    # NVRTC, cuBLAS and NCCL from the pip wheels beside PyTorch, after the toolkit's.
    local pip; pip=$(python3 -c 'import nvidia, os; print(":".join(sorted(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p) if os.path.isdir(os.path.join(p, d, "lib")))))' 2>/dev/null || true)
    [[ -n "$pip" ]] && export BALLAST_CUDA_LIB_DIRS="${BALLAST_CUDA_LIB_DIRS:+$BALLAST_CUDA_LIB_DIRS:}$pip"
    local nccl; nccl=$(tr ':' '\n' <<< "$pip" | grep '/nccl/lib$' | head -1 || true)
    [[ -n "$nccl" && -f "$nccl/libnccl.so.2" && -z "${BALLAST_NCCL_LIBRARY:-}" ]] && export BALLAST_NCCL_LIBRARY="$nccl/libnccl.so.2"
    local cache; cache="$(mktemp -d "${TMPDIR:-/tmp}/ballast-gpu-check-cache.XXXXXX")"
    local jopts=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dballast.cache.dir="$cache")
    local jar="$PACK/ballast.jar" summary="$out/summary.txt"
    : > "$summary"
    {
        echo "gpu-check run $(date -u +%FT%TZ) commit $(cat "$PACK/commit" 2>/dev/null || echo unknown), budget ${budget} s"
        echo "host $(hostname), $(nproc) cores; java $("$jh/bin/java" -version 2>&1 | head -1)"
        if command -v nvidia-smi >/dev/null; then nvidia-smi 2>&1 || true; else echo "nvidia-smi: none"; fi
        echo "python3: $(command -v python3 || echo none) $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo '(no torch)')"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; echo "BALLAST_CUDA_LIB_DIRS=${BALLAST_CUDA_LIB_DIRS:-}"; echo "BALLAST_NCCL_LIBRARY=${BALLAST_NCCL_LIBRARY:-}"
    } > "$out/00-environment.txt" 2>&1

    # step NAME LIMIT_S COMMAND...: runs it with its output in $out/NAME.txt and sets STATUS, SECS and LAST; the limit
    # is cut to what is left of the budget, and a step with under 15 s left is not started. `row NAME` then adds the
    # summary row (after any check of the step's own has changed STATUS); `check_step` does both.
    local rows=() failed=0 STATUS SECS LAST
    step() {
        local name=$1 limit=$2; shift 2
        local left=$((budget - (SECONDS - start)))
        (( left < limit )) && limit=$left
        if (( limit < 15 )); then STATUS="NOT RUN"; SECS=0; LAST="out of time (budget ${budget} s)"; return; fi
        local t0=$SECONDS rc=0
        echo "== $name (limit ${limit}s)"
        timeout --kill-after=10 "$limit" "$@" > "$out/$name.txt" 2>&1 || rc=$?
        LAST=$(grep -v '^WARNING' "$out/$name.txt" | grep -v '^\s*$' | tail -1 | cut -c1-100 || true)
        STATUS=ok; (( rc == 0 )) || STATUS="FAILED rc=$rc"; (( rc == 124 || rc == 137 )) && STATUS="TIMED OUT"
        SECS=$((SECONDS - t0))
    }
    row() {
        rows+=("$(printf '%-36s %-12s %5ss  %s' "$1" "$STATUS" "$SECS" "$LAST")")
        [[ "$STATUS" == ok ]] || failed=$((failed + 1))
        echo "   $STATUS in ${SECS}s: $LAST"
    }
    check_step() { step "$@"; row "$1"; }

    step 01-doctor 60 java "${jopts[@]}" -jar "$jar" doctor
    local small=0
    grep -q 'Fake CUDA device' "$out/01-doctor.txt" 2>/dev/null && small=1
    if [[ "$STATUS" == ok ]] && ! grep -q '^backend: cuda' "$out/01-doctor.txt"; then STATUS=FAILED; LAST="doctor does not name the CUDA backend: $LAST"; fi
    [[ "$STATUS" == ok ]] && LAST=$(grep -m1 '^cuda: ' "$out/01-doctor.txt" | cut -c1-100 || true)
    row 01-doctor

    # ---- every gpu-tagged test (a test that hangs fails after 150 s instead of eating the budget). The JUnit XML
    # says what ran: on the emulated device the tests listed in scripts/emulator-cannot-run.txt are reported with the
    # reason; any other skip fails the step, as a failure does.
    local s="$PACK/stage"
    local cp; cp="$(ls -d "$s"/classes/* | tr '\n' ':')$jar:$s/lib/*"
    local roots; roots=$(ls -d "$s"/classes/*-test-classes | tr '\n' ':'); roots=${roots%:}
    rm -rf "$out/junit"
    # GPU_CHECK_TESTS narrows the selection (JUnit console selectors, e.g. "--select-class dev.ballast.cuda.CudaBackendGpuTest"):
    # the emulated CI stage runs the script that way as a smoke test of the packing; a real GPU runs them all.
    local select; read -r -a select <<< "${GPU_CHECK_TESTS:---scan-classpath=$roots}"
    step 02-gpu-tests 300 java "${jopts[@]}" -Xss8m -Dballast.test.requireGpu=true -jar "$s/junit-platform-console-standalone.jar" \
        execute -cp "$cp" "${select[@]}" --include-tag gpu --exclude-tag none --details=tree --disable-banner \
        --disable-ansi-colors --config=junit.jupiter.execution.timeout.default=150s --reports-dir "$out/junit"
    local modules verdict vrc=0
    modules=$(find "$cache/kernels" \( -name '*.cubin' -o -name '*.ptx' \) 2>/dev/null | wc -l || true)
    verdict=$(python3 scripts/gpu-test-verdict.py "$small" scripts/emulator-cannot-run.txt "$out"/junit/TEST-*.xml 2>&1) || vrc=$?
    printf '%s\nkernel modules compiled into the fresh cache: %s\n' "$verdict" "$modules" >> "$out/02-gpu-tests.txt"
    LAST="$(grep -m1 '^gpu tests:' <<< "$verdict" | cut -d'(' -f1 | sed 's/^gpu tests: //' || true); $modules modules compiled"
    if [[ "$STATUS" == ok ]] && (( vrc != 0 || modules == 0 )); then STATUS=FAILED; fi
    row 02-gpu-tests
    grep -v '^gpu tests:' <<< "$verdict" || true

    # ---- every PyTorch reference file, each case on the CPU and on CUDA
    local f name
    for f in "$PACK"/reference/${GPU_CHECK_REFERENCES:-*}.json; do
        name="03-verify-$(basename "$f" .json)"
        step "$name" 90 java "${jopts[@]}" -jar "$jar" verify-reference "$f" --device all
        if [[ "$STATUS" == ok ]] && ! { grep -Eq '^\S+ +cuda +passed' "$out/$name.txt" && grep -Eq ' 0 failed, 0 skipped$' "$out/$name.txt"; }; then
            STATUS=FAILED; LAST="not every case ran and passed on both CPU and CUDA: $LAST"
        fi
        row "$name"
    done

    # ---- benchmarks, PyTorch beside when python3 has it (on the emulated device: toy sizes, no PyTorch, a smoke test)
    if (( small )); then
        printf '[[64, 64], [1000], [33, 7]]\n' > "$out/small-shapes.json"
        check_step 04-bench-matmul 90 java "${jopts[@]}" -jar "$jar" bench matmul --sizes 64 --dtypes fp32,bf16 --quick --no-torch
        check_step 05-bench-ops 90 java "${jopts[@]}" -jar "$jar" bench ops --mb 1 --quick --no-torch
        check_step 06-bench-clip 90 java "${jopts[@]}" -jar "$jar" bench clip --shapes "$out/small-shapes.json" --quick --no-torch
    else
        check_step 04-bench-matmul 120 java "${jopts[@]}" -jar "$jar" bench matmul
        check_step 05-bench-ops 90 java "${jopts[@]}" -jar "$jar" bench ops
        check_step 06-bench-clip 120 java "${jopts[@]}" -jar "$jar" bench clip
    fi
    local r
    {
        echo "gpu-check summary: $((SECONDS - start)) s of a ${budget} s budget; sizes: $( ((small)) && echo 'reduced (emulated device)' || echo full); output in $out"
        echo "device: $(grep -m1 '^cuda: ' "$out/01-doctor.txt" 2>/dev/null | cut -c7- || echo unknown)"
        printf '%-36s %-12s %6s  %s\n' step status time "result"
        for r in "${rows[@]}"; do echo "$r"; done
        grep -v '^gpu tests:' <<< "$verdict" | head -12 || true # all of them in 02-gpu-tests.txt
        # The benchmark tables (Ballast beside PyTorch where it ran), from their header row on.
        for f in "$out"/0[456]-bench-*.txt; do
            [[ -f "$f" ]] || continue
            echo "-- $(basename "$f" .txt)"
            awk '/^(op|set) +/ { on = 1 } on && !/^WARNING/' "$f" || true
        done
        echo "gpu-check: $( ((failed == 0)) && echo "all ${#rows[@]} steps passed" || echo "$failed of ${#rows[@]} steps did not pass")"
    } | tee "$summary"
    rm -rf "$cache"
    (( failed == 0 ))
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: scripts/gpu-check.sh prepare|run (prepare here, run on the GPU machine with .gpu carried)" >&2; exit 2 ;;
esac
