#!/usr/bin/env bash
# Opentime events benchmark (pixel vs cache-hit greeting, event to fresh answer, updater rate and exactly-once
# effect), on this machine, loopback only. Usage (from the repo root): bash bench/events.sh
# Knobs: DURATION (s, default 10), ROUNDS (3), SAMPLES (200), EVENT_READERS (20000), CONNECTIONS (64), THREADS (2),
# JAVA_OPTS, OPENTIME_JAR. See bench/README.md.
set -euo pipefail
# die, ensure_wrk, locks ...: bench/lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
START_DIR=$(pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
resolve_jar "$START_DIR" "$ROOT"
require_jar
mkdir -p bench/out
ensure_wrk bench/out/apt-wrk.log
# Another load on this machine (load-tests/run.sh holds LOAD_LOCK while it runs, the other benchmarks BENCH_LOCK) would
# skew every number: wait while one runs (a stale lock, whose pid is gone, is ignored), then hold BENCH_LOCK.
acquire_lock "$BENCH_LOCK" bench/events.sh 10 "$LOAD_LOCK"
COPY=""
cleanup() { # RC (exit_traps)
  [[ -n $COPY ]] && rm -f "$COPY"
  release_lock "$BENCH_LOCK"
}
exit_traps cleanup
TS=$(date +%Y%m%d-%H%M%S)
RESULTS=bench/out/events-results-$TS.txt
# Run from a copy of the jar: a rebuild during the run (mvn package) must not pull classes from under it.
COPY=bench/out/opentime-gateway-$TS.jar
cp "$JAR" "$COPY"
# The broker runs inside this JVM (JSON logs of the broker's start/stop filtered out).
OPENTIME_JAR=$COPY java -Xmx1g -cp "$COPY" bench/EventsBench.java 2>&1 | grep --line-buffered -v '"level":"INFO"' | tee "$RESULTS"
echo "output: $RESULTS"
