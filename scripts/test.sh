#!/usr/bin/env bash
# Runs Ballast's test suite: every module, JUnit tests tagged `slow` excluded (the parent pom's
# surefire excludedGroups), GPU tests skipped with a reason where no GPU answers.
# Finds a JDK 25+ itself; extra arguments go to Maven (e.g. scripts/test.sh -o -pl engine).
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=find-jdk.sh
source "$ROOT/scripts/find-jdk.sh"
JAVA_HOME="$(ballast_find_jdk)" || exit 1
export JAVA_HOME
command -v mvn >/dev/null 2>&1 || { echo "scripts/test.sh: Maven (mvn, 3.8 or newer) is required and is not on PATH" >&2; exit 1; }
MAVEN_OPTS="$(ballast_maven_opts "$JAVA_HOME")"
export MAVEN_OPTS
cd "$ROOT"
exec mvn -B -Dstyle.color=never test "$@"
