#!/usr/bin/env bash
# Opentime events benchmark (pixel vs cache-hit greeting, event to fresh answer, updater rate and exactly-once
# effect), on this machine, loopback only. Usage (from the repo root): bash bench/events.sh
# Knobs: DURATION (s, default 10), ROUNDS (3), SAMPLES (200), EVENT_READERS (20000), CONNECTIONS (64), THREADS (2),
# JAVA_OPTS, OPENTIME_JAR. See bench/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JAR=${OPENTIME_JAR:-$ROOT/target/opentime-gateway.jar}
if [[ ! -f $JAR ]]; then
  echo "no gateway jar at $JAR; build it first: mvn -B -ntp -DskipTests package" >&2
  exit 1
fi
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is needed (apt-get install wrk)" >&2
    exit 1
  fi
fi
mkdir -p bench/out
# Another load on this machine (load-tests/run.sh holds this lock while it runs) would skew every number: wait.
while [[ -e /tmp/opentime-load-tests.lock ]]; do
  echo "waiting for the load test holding /tmp/opentime-load-tests.lock to finish..."
  sleep 10
done
LOCK=/tmp/opentime-bench.lock
echo $$ >"$LOCK"
trap 'rm -f "$LOCK"' EXIT
TS=$(date +%Y%m%d-%H%M%S)
RESULTS=bench/out/events-results-$TS.txt
# Run from a copy of the jar: a rebuild during the run (mvn package) must not pull classes from under it.
COPY=bench/out/opentime-gateway-$TS.jar
cp "$JAR" "$COPY"
trap 'rm -f "$LOCK" "$COPY"' EXIT
# The broker runs inside this JVM (JSON logs of the broker's start/stop filtered out).
OPENTIME_JAR=$COPY java -Xmx1g -cp "$COPY" bench/EventsBench.java 2>&1 | grep --line-buffered -v '"level":"INFO"' | tee "$RESULTS"
echo "output: $RESULTS"
