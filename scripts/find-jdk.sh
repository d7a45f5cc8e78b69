# shellcheck shell=bash
# Finds a JDK 25 or newer for Ballast. Sourced by ./ballast, scripts/test.sh and .ci/run.
#
#   ballast_find_jdk    prints the JDK's home directory on stdout and returns 0; where there is none,
#                       prints what it looked at and how to fix it on stderr and returns 1.
#
# Order: $JAVA_HOME (if 25+), /usr/lib/jvm/temurin-25-jdk-amd64, the newest 25+ JDK under /usr/lib/jvm,
# then the `java` on PATH. A JDK here is a directory with bin/java and bin/javac (Maven needs javac).

BALLAST_MIN_JAVA=25

# The feature version (25, 17, 8...) of the JDK at $1, or nothing if it is not a JDK.
ballast_jdk_version() {
    local home="$1" v=""
    [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || return 1
    if [[ -r "$home/release" ]]; then
        # The release file is cheap to read: JAVA_VERSION="25.0.1"
        v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" 2>/dev/null | head -n1)
    fi
    if [[ -z "$v" ]]; then
        # No release file: ask the JVM (slower, starts it once).
        v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
            | sed -n 's/^ *java\.specification\.version = //p' | head -n1)
    fi
    [[ -n "$v" ]] || return 1
    v=${v#1.}          # 1.8.0_x -> 8.0_x
    v=${v%%[!0-9]*}    # 25.0.1 -> 25, 26-ea -> 26
    [[ -n "$v" ]] || return 1
    printf '%s\n' "$v"
}

# "Java 17" when $1 is a version, else $2 (why the place did not count).
ballast_describe() { if [[ -n "$1" ]]; then printf 'Java %s' "$1"; else printf '%s' "$2"; fi; }

ballast_find_jdk() {
    local looked=() home v best="" best_v=0

    if [[ -n "${JAVA_HOME:-}" ]]; then
        if v=$(ballast_jdk_version "$JAVA_HOME") && (( v >= BALLAST_MIN_JAVA )); then
            printf '%s\n' "$JAVA_HOME"; return 0
        fi
        looked+=("JAVA_HOME=$JAVA_HOME ($(ballast_describe "$v" "not a JDK"))")
    else
        looked+=("JAVA_HOME (not set)")
    fi

    home=/usr/lib/jvm/temurin-25-jdk-amd64
    if v=$(ballast_jdk_version "$home") && (( v >= BALLAST_MIN_JAVA )); then
        printf '%s\n' "$home"; return 0
    fi
    local why=absent; [[ -e "$home" ]] && why="not a JDK"
    looked+=("$home ($(ballast_describe "$v" "$why"))")

    local found=()
    for home in /usr/lib/jvm/*; do
        [[ -d "$home" && ! -L "$home" ]] || continue
        v=$(ballast_jdk_version "$home") || continue
        found+=("$(basename "$home"): Java $v")
        if (( v >= BALLAST_MIN_JAVA && v > best_v )); then best="$home"; best_v=$v; fi
    done
    if [[ -n "$best" ]]; then printf '%s\n' "$best"; return 0; fi
    if (( ${#found[@]} )); then
        looked+=("/usr/lib/jvm/* ($(IFS=,; echo "${found[*]}" | sed 's/,/, /g'))")
    else
        looked+=("/usr/lib/jvm/* (no JDK)")
    fi

    local java_bin
    if java_bin=$(command -v java 2>/dev/null); then
        java_bin=$(readlink -f "$java_bin")
        home=$(dirname "$(dirname "$java_bin")")
        if v=$(ballast_jdk_version "$home") && (( v >= BALLAST_MIN_JAVA )); then
            printf '%s\n' "$home"; return 0
        fi
        looked+=("java on PATH: $java_bin ($(ballast_describe "$v" "not part of a JDK"))")
    else
        looked+=("java on PATH (none)")
    fi

    {
        echo "ballast: a JDK $BALLAST_MIN_JAVA or newer is required, and none was found."
        echo "Looked at:"
        local l; for l in "${looked[@]}"; do echo "  - $l"; done
        echo "Install one (for example Eclipse Temurin 25) and point JAVA_HOME at it:"
        echo "  export JAVA_HOME=/path/to/jdk-25"
    } >&2
    return 1
}

# MAVEN_OPTS for running Maven on the JDK at $1: the caller's MAVEN_OPTS, plus, on JDK 25 only, the flag
# that silences the JVM's warnings about Maven's own use of sun.misc.Unsafe (not Ballast's concern;
# later JDKs may reject the flag, so it is not passed to them).
ballast_maven_opts() {
    local v opts="${MAVEN_OPTS:-}"
    if v=$(ballast_jdk_version "$1") && (( v == 25 )); then
        opts="${opts:+$opts }--sun-misc-unsafe-memory-access=allow"
    fi
    printf '%s\n' "$opts"
}
