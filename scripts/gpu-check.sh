#!/usr/bin/env bash
# The GPU check in two halves, because the GPU machine has no Java and no Maven and only carried paths travel:
#
#   scripts/gpu-check.sh prepare   (here) builds the project and packs into .gpu/ (git-ignored, well under the
#                                  64 MiB carry limit): a jlink'd Java 25 runtime, the ballast jar, every module's
#                                  classes and test classes with their test-scope jars and the JUnit console
#                                  launcher, and the PyTorch reference files.
#   scripts/gpu-check.sh run       (there, or here against the emulated device) runs, each step with a time limit,
#                                  all within about 8 minutes: doctor; every gpu-tagged test (they size themselves
#                                  from the device: full on a GPU, small on the emulator) with a fresh kernel cache;
#                                  verify-reference --device all on every reference file; bench matmul, ops and clip
#                                  with PyTorch beside when python3 has it. All output goes to one folder ($OUT on the
#                                  device machine, else target/gpu-check) and ends with a summary table.
#
# On a session that has a GPU, after `prepare`:   run(command="bash scripts/gpu-check.sh run", carry=[".gpu"], timeout_s=560)
# Here, against the emulated device:               scripts/emulated-gpu.sh builds it; then
#   LD_LIBRARY_PATH=$PWD/target/fakecuda BALLAST_CUDA_LIB_DIRS=$PWD/target/fakecuda/toolkit FAKECUDA_HOME=$PWD/target/fakecuda \
#   FAKECUDA_BUILD=$PWD/target/fakecuda/kernels scripts/gpu-check.sh run
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
PACK="$ROOT/.gpu"
JUNIT_CONSOLE="org.junit.platform:junit-platform-console-standalone:1.11.4"

prepare() {
    # shellcheck source=find-jdk.sh
    source scripts/find-jdk.sh
    local jdk; jdk="$(ballast_find_jdk)"
    export JAVA_HOME="$jdk" MAVEN_OPTS; MAVEN_OPTS="$(ballast_maven_opts "$jdk")"
    rm -rf "$PACK"; mkdir -p "$PACK/stage/lib" "$PACK/stage/classes" "$PACK/reference"
    echo "gpu-check prepare: building (mvn package, tests compiled, not run)"
    mvn -q -B -o -Dstyle.color=never -DskipTests package dependency:copy-dependencies -DincludeScope=test \
        -DoutputDirectory="$PACK/stage/lib" -Dmdep.prependGroupId=true \
        || mvn -q -B -Dstyle.color=never -DskipTests package dependency:copy-dependencies -DincludeScope=test \
            -DoutputDirectory="$PACK/stage/lib" -Dmdep.prependGroupId=true
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$JUNIT_CONSOLE" -DoutputDirectory="$PACK/stage" -Dmdep.stripVersion=true
    # The launcher bundles the platform and the Jupiter engine: drop the copies, and the project's own jars
    # (its classes are staged below, module by module).
    rm -f "$PACK"/stage/lib/org.junit.platform.* "$PACK"/stage/lib/org.junit.jupiter.junit-jupiter-engine-* "$PACK"/stage/lib/*ballast*
    for dir in */target/classes */target/test-classes; do
        [[ -d "$dir" ]] || continue
        local mod="${dir%%/*}" kind="${dir##*/}"
        mkdir -p "$PACK/stage/classes/$mod-$kind"
        cp -r "$dir/." "$PACK/stage/classes/$mod-$kind/"
    done
    cp cli/target/ballast.jar "$PACK/ballast.jar"
    cp cli/src/test/resources/reference/*.json "$PACK/reference/"
    "$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.management,java.logging,java.xml,java.naming,java.net.http,jdk.crypto.ec \
        --strip-debug --no-header-files --no-man-pages --output "$PACK/jre.tmp" >/dev/null
    # xz at a low preset on every core: the default preset took minutes on a busy 2-core machine for ~1 MiB gained.
    XZ_OPT="-2 -T0" tar -C "$PACK" -cJf "$PACK/jre.tar.xz" --transform 's/^jre.tmp/jre/' jre.tmp
    rm -rf "$PACK/jre.tmp"
    git rev-parse HEAD > "$PACK/commit" 2>/dev/null || true
    local size; size=$(du -sm "$PACK" | cut -f1)
    echo "gpu-check prepare: .gpu holds ${size} MiB (limit 64): runtime $(du -h "$PACK/jre.tar.xz" | cut -f1), jar, $(find "$PACK/stage/classes" -name '*Test.class' | wc -l) test classes, $(ls "$PACK/reference" | wc -l) reference files"
    (( size < 64 )) || { echo "gpu-check prepare: .gpu is over the 64 MiB carry limit" >&2; exit 1; }
    echo "next, on a session with a GPU: run(command=\"bash scripts/gpu-check.sh run\", carry=[\".gpu\"], timeout_s=560)"
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
    local out="${OUT:-$ROOT/target/gpu-check}"
    mkdir -p "$out"
    local jh; jh="$(java_home)"
    export JAVA_HOME="$jh" PATH="$jh/bin:$PATH"
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64:/usr/local/nvidia/lib64"
    # NVRTC and cuBLAS from the pip wheels beside PyTorch, after the toolkit's.
    local pip; pip=$(python3 -c 'import nvidia, os; print(":".join(sorted(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p) if os.path.isdir(os.path.join(p, d, "lib")))))' 2>/dev/null || true)
    [[ -n "$pip" ]] && export BALLAST_CUDA_LIB_DIRS="${BALLAST_CUDA_LIB_DIRS:+$BALLAST_CUDA_LIB_DIRS:}$pip"
    local cache; cache="$(mktemp -d "${TMPDIR:-/tmp}/ballast-gpu-check-cache.XXXXXX")"
    local jopts=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dballast.cache.dir="$cache")
    local jar="$PACK/ballast.jar" summary="$out/summary.txt" start=$SECONDS
    : > "$summary"
    {
        echo "gpu-check run $(date -u +%FT%TZ) commit $(cat "$PACK/commit" 2>/dev/null || echo unknown)"
        echo "host $(hostname), $(nproc) cores; java $("$jh/bin/java" -version 2>&1 | head -1)"
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; echo "BALLAST_CUDA_LIB_DIRS=${BALLAST_CUDA_LIB_DIRS:-}"
    } > "$out/00-environment.txt" 2>&1

    # step NAME LIMIT_S COMMAND...: runs it with output in $out/NAME.txt and a row in the summary.
    local rows=()
    step() {
        local name=$1 limit=$2; shift 2
        local t0=$SECONDS rc=0
        echo "== $name (limit ${limit}s)"
        timeout --kill-after=10 "$limit" "$@" > "$out/$name.txt" 2>&1 || rc=$?
        local last; last=$(grep -v '^WARNING' "$out/$name.txt" | grep -v '^\s*$' | tail -1 | cut -c1-90)
        local status=ok; (( rc == 0 )) || status="FAILED rc=$rc"; (( rc == 124 || rc == 137 )) && status="TIMED OUT"
        rows+=("$(printf '%-26s %-14s %5ss  %s' "$name" "$status" "$((SECONDS - t0))" "$last")")
        echo "   $status in $((SECONDS - t0))s: $last"
    }
    step 01-doctor 60 java "${jopts[@]}" -jar "$jar" doctor
    local small=0
    grep -q 'Fake CUDA device' "$out/01-doctor.txt" && small=1
    local s="$PACK/stage"
    local cp; cp="$(ls -d "$s"/classes/* | tr '\n' ':')$s/lib/*"
    local roots; roots=$(ls -d "$s"/classes/*-test-classes | tr '\n' ':'); roots=${roots%:}
    step 02-gpu-tests 300 java "${jopts[@]}" -Xss8m -Dballast.test.requireGpu=true -jar "$s/junit-platform-console-standalone.jar" \
        execute -cp "$cp" --scan-classpath="$roots" --include-tag gpu --exclude-tag none --details=tree --disable-banner \
        --reports-dir "$out/junit"
    echo "kernel modules compiled into the fresh cache: $(find "$cache/kernels" -name '*.cubin' -o -name '*.ptx' 2>/dev/null | wc -l)" >> "$out/02-gpu-tests.txt"
    for f in "$PACK"/reference/*.json; do
        step "03-verify-$(basename "$f" .json)" 90 java "${jopts[@]}" -jar "$jar" verify-reference "$f" --device all
    done
    if (( small )); then
        # The emulated device runs each CUDA thread as an OS thread: the same commands at toy sizes.
        printf '[[64, 64], [1000], [33, 7]]\n' > "$out/small-shapes.json"
        step 04-bench-matmul 120 java "${jopts[@]}" -jar "$jar" bench matmul --sizes 64 --dtypes fp32,bf16 --quick
        step 05-bench-ops 120 java "${jopts[@]}" -jar "$jar" bench ops --mb 1 --quick
        step 06-bench-clip 120 java "${jopts[@]}" -jar "$jar" bench clip --shapes "$out/small-shapes.json" --quick
    else
        step 04-bench-matmul 120 java "${jopts[@]}" -jar "$jar" bench matmul
        step 05-bench-ops 90 java "${jopts[@]}" -jar "$jar" bench ops
        step 06-bench-clip 120 java "${jopts[@]}" -jar "$jar" bench clip
    fi
    local failed=0 r
    {
        echo "gpu-check summary ($((SECONDS - start)) s, output in $out; sizes: $( ((small)) && echo 'reduced, emulated device' || echo full))"
        printf '%-26s %-14s %6s  %s\n' step status time "last line"
        for r in "${rows[@]}"; do echo "$r"; [[ "$r" == *" ok "* ]] || failed=$((failed + 1)); done
        local x="$out/junit/TEST-junit-jupiter.xml"
        [[ -f "$x" ]] && python3 - "$x" <<'EOF' || true
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print('gpu tests: %s run, %s failed, %s errors, %s skipped' % (r.get('tests'), r.get('failures'), r.get('errors'), r.get('skipped')))
EOF
        grep -h 'kernel modules compiled' "$out/02-gpu-tests.txt" || true
    } | tee "$summary"
    rm -rf "$cache"
    (( failed == 0 ))
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: scripts/gpu-check.sh prepare|run (prepare here, run on the GPU machine with .gpu carried)" >&2; exit 2 ;;
esac
