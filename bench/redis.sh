#!/usr/bin/env bash
# Opentime Redis benchmark: Redis's own ceiling for the gateway's two Redis operations (the profile read, HMGET of the
# 11 schema fields, and the profile update, EVALSHA of events/apply.lua), on one redis-server on loopback: reads only,
# updates only, then a read/update mix. Usage (from the repo root): bash bench/redis.sh     See bench/README.md.
set -euo pipefail
# die, stop_pid, free_port, redis_server_bin, start_redis, locks ...: bench/lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------
DURATION=${DURATION:-10}        # seconds measured per phase (10 or 10s)
WARMUP=${WARMUP:-3}             # unmeasured seconds before each phase
CONNECTIONS=${CONNECTIONS:-2}   # Redis connections of the client, one per event loop (as the gateway)
IN_FLIGHT=${IN_FLIGHT:-128}     # commands pipelined on each connection
PROFILES=${PROFILES:-100000}    # profiles profile:{u<i>} loaded; readers are picked at random among them
EVENTS=${EVENTS:-attribute}     # updates: attribute (first_name) or mix (60% page_view, 25% cart_add, 15% attribute)
READ_SHARE=${READ_SHARE:-90}    # % reads of the mixed phase
IDLE_WAIT=${IDLE_WAIT:-600}     # seconds to wait, before each phase, for running surefire test JVMs to end
JAVA_OPTS=${JAVA_OPTS:-}        # extra JVM options of the client

START_DIR=$(pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
resolve_jar "$START_DIR" "$ROOT"

DURATION=${DURATION%s}
WARMUP=${WARMUP%s}
for knob in DURATION WARMUP CONNECTIONS IN_FLIGHT PROFILES; do
  [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer (got '${!knob}')"
done
[[ $READ_SHARE =~ ^[0-9]+$ ]] && (( READ_SHARE > 0 && READ_SHARE < 100 )) || die "READ_SHARE must be 1..99"
[[ $IDLE_WAIT =~ ^[0-9]+$ ]] || die "IDLE_WAIT must be a whole number of seconds"
[[ $EVENTS == attribute || $EVENTS == mix ]] || die "EVENTS must be attribute or mix"
require_jar
require_tools java awk

# ---------------------------------------------------------------------------------------------------------------
# Locks: wait while a load test or another benchmark runs (a stale lock, whose pid is gone, is ignored); then hold
# the benchmark lock
# ---------------------------------------------------------------------------------------------------------------
acquire_lock "$BENCH_LOCK" bench/redis.sh 10 "$LOAD_LOCK"

OUT=$ROOT/bench/out
TS=$(date +%Y%m%d-%H%M%S)
RUN_DIR=$OUT/redis-$TS
mkdir -p "$RUN_DIR"
RESULTS=$OUT/redis-results-$TS.txt
tee_output "$RESULTS"

# ---------------------------------------------------------------------------------------------------------------
# Processes: Redis is stopped on exit, Ctrl-C or error
# ---------------------------------------------------------------------------------------------------------------
REDIS_PID=""
COPY=""

cleanup() { # RC (exit_traps)
  local rc=$1
  if [[ -n $REDIS_PID ]]; then kill -CONT "$REDIS_PID" 2>/dev/null; fi
  stop_pid "$REDIS_PID" redis; REDIS_PID=""
  [[ -n $COPY ]] && rm -f "$COPY"
  release_lock "$BENCH_LOCK"
  if (( rc != 0 )); then
    echo "bench/redis.sh stopped (exit $rc); logs in ${RUN_DIR#"$ROOT"/}/, output in ${RESULTS#"$ROOT"/}"
  fi
  close_output
}
exit_traps cleanup

# ---------------------------------------------------------------------------------------------------------------
# Jar copy (a rebuild during the run must not pull classes from under it) and redis-server
# ---------------------------------------------------------------------------------------------------------------
COPY=$OUT/opentime-gateway-redis-$TS.jar
cp -p "$JAR" "$COPY"   # -p: the copy keeps the jar's time, which says whether to extract redis-server again
redis_server_bin "$COPY" "$OUT"

CORES=$(nproc)
echo "== Opentime Redis benchmark $TS"
echo "machine: $(machine_summary)"
echo "java:    $(java -version 2>&1 | head -n 1)"
echo "redis:   $("$REDIS_BIN" --version | head -n 1)"
echo "jar:     $JAR (run from a copy)"
echo "knobs:   DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS IN_FLIGHT=$IN_FLIGHT PROFILES=$PROFILES" \
  "EVENTS=$EVENTS READ_SHARE=$READ_SHARE IDLE_WAIT=$IDLE_WAIT${JAVA_OPTS:+ JAVA_OPTS=$JAVA_OPTS}"
echo "note:    the client (this benchmark's JVM) and Redis share these $CORES cores"
echo "logs:    ${RUN_DIR#"$ROOT"/}/"
echo "load:    load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# ---------------------------------------------------------------------------------------------------------------
# Redis with PROFILES profiles
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== setup"
start_redis "$RUN_DIR"
echo "  redis: pid $REDIS_PID, redis://127.0.0.1:$REDIS_PORT"

export DURATION WARMUP CONNECTIONS IN_FLIGHT PROFILES EVENTS READ_SHARE IDLE_WAIT
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
export CLK_TCK
# shellcheck disable=SC2086
timeout 600 java $JAVA_OPTS -cp "$COPY" bench/RedisBench.java load "redis://127.0.0.1:$REDIS_PORT" "$PROFILES" \
  >"$RUN_DIR/load-profiles.log" 2>&1 </dev/null || { cat "$RUN_DIR/load-profiles.log"; die "loading profiles failed"; }
echo "  $(tail -n 1 "$RUN_DIR/load-profiles.log")"

# ---------------------------------------------------------------------------------------------------------------
# The three phases (bench/RedisBench.java); it waits for surefire JVMs to end before each one
# ---------------------------------------------------------------------------------------------------------------
echo
# 3 phases x (idle wait + 1 s + warm-up + duration) + start-up, bounded
LIMIT=$(( 3 * (IDLE_WAIT + 5 + WARMUP + DURATION) + 120 ))
# shellcheck disable=SC2086
timeout "$LIMIT" java $JAVA_OPTS -cp "$COPY" bench/RedisBench.java run "redis://127.0.0.1:$REDIS_PORT" "$REDIS_PID" \
  </dev/null || die "bench/RedisBench.java failed"
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  full output: ${RESULTS#"$ROOT"/}"
