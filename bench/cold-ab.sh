#!/usr/bin/env bash
# bench/cold-ab.sh: what a cold answer costs, one gateway build against another, on this machine (loopback only).
#
#   bash bench/cold-ab.sh JAR [JAR...]        e.g. bash bench/cold-ab.sh /tmp/before.jar target/opentime-gateway.jar
#
# bench/run.sh tells whether the cold target passes; this script tells whether a change to the cold path helped,
# which the ratio alone cannot on a machine whose speed drifts by 10-20% within minutes. It starts a Redis with
# READERS profiles and the ceiling server (warmed once: it runs throughout), then for each of ROUNDS rounds and each
# JAR in turn (A B A B ...): a fresh gateway, WARMUP of wrk on 10,000 readers (cached, and the JIT's warm-up), then
# DURATION of wrk on the ceiling and DURATION on the gateway, both on random readers the gateway has not seen. For
# each pair it prints the answers per second and, per answer, the CPU of the server (user, kernel), of Redis and of
# the whole machine (from /proc): compare CPU per answer across jars, not one run's ratio.
#
# Knobs (environment): ROUNDS (3), READERS (1000000), DURATION (10s), WARMUP (20s), CONNECTIONS (64), THREADS (2),
# GATEWAY_JAVA_OPTS (the Dockerfile's, as bench/run.sh), OPENTIME_REDIS_DEADLINE (25ms). About 1 minute per pair
# plus a minute of setup.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

(( $# >= 1 )) || die "usage: bash bench/cold-ab.sh JAR [JAR...]"
for j in "$@"; do [[ -f $j ]] || die "no such jar: $j (build one with: mvn -B -ntp -DskipTests package)"; done
TOOL_JAR=$1 # runs Redis, the loader, the token command and the ceiling (the same for every jar compared)
ROUNDS=${ROUNDS:-3}
READERS=${READERS:-1000000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
GATEWAY_JAVA_OPTS=${GATEWAY_JAVA_OPTS--XX:MaxTenuringThreshold=1 -XX:MaxGCPauseMillis=50}
DEADLINE=${OPENTIME_REDIS_DEADLINE:-25ms}
SENDER=bench@opentime.example
WARM_READERS=10000
(( READERS > 2 * WARM_READERS )) || die "READERS must be above $((2 * WARM_READERS))"
require_tools java wrk curl awk
OUT=$ROOT/bench/out
RUN_DIR=$OUT/cold-ab-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
GW_PID="" CEIL_PID="" REDIS_PID=""
cleanup() { stop_pid "$GW_PID" gateway; stop_pid "$CEIL_PID" ceiling; stop_pid "$REDIS_PID" redis; }
exit_traps cleanup

redis_server_bin "$TOOL_JAR" "$OUT"
start_redis "$RUN_DIR"
java -cp "$TOOL_JAR" "$HERE/LoadProfiles.java" "redis://127.0.0.1:$REDIS_PORT" "$READERS" >"$RUN_DIR/load.log" 2>&1 \
  || { cat "$RUN_DIR/load.log"; die "loading profiles failed"; }
TOKEN_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
mint() { # FIRST LAST FILE: tokens of readers uFIRST..uLAST, minted by the gateway's own command
  seq "$1" "$2" | sed 's/^/u/' | OPENTIME_TOKEN_KEYS=$TOKEN_KEYS java -jar "$TOOL_JAR" token --uids-file - --ttl 1d \
    >"$3" 2>"$RUN_DIR/token.log" || { cat "$RUN_DIR/token.log"; die "minting tokens failed"; }
}
mint 0 $((WARM_READERS - 1)) "$RUN_DIR/warm.tokens"
mint "$WARM_READERS" $((READERS - 1)) "$RUN_DIR/cold.tokens"

free_port CEIL_PORT
java -cp "$TOOL_JAR" "$HERE/CeilingServer.java" "$CEIL_PORT" >"$RUN_DIR/ceiling.log" 2>&1 </dev/null &
CEIL_PID=$!
wait_http "$CEIL_PID" "$CEIL_PORT" ceiling "$RUN_DIR/ceiling.log"
echo "machine: $(machine_summary); readers: $READERS; $ROUNDS rounds of $DURATION; GATEWAY_JAVA_OPTS=$GATEWAY_JAVA_OPTS"

drive() { # PORT DURATION TOKENS -> requests per second
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --timeout 2s -s "$HERE/wrk/greeting.lua" "http://127.0.0.1:$1" -- "$3" \
    2>&1 | grep -o 'RESULT rps=[0-9]*' | cut -d= -f2
}
sample() { # PID -> "box_busy box_idle pid_user pid_sys redis" in clock ticks, now
  echo "$(cpu_ticks) $(awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat") $(pid_ticks "$REDIS_PID")"
}
measure() { # PORT PID -> one line: answers/s and CPU per answer, over one DURATION run on new readers
  local a b rps
  a=$(sample "$2")
  rps=$(drive "$1" "$DURATION" "$RUN_DIR/cold.tokens")
  b=$(sample "$2")
  awk -v a="$a" -v b="$b" -v rps="$rps" -v d="${DURATION%s}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); n = rps * d; us = 1e6 / hz / n
    printf "%6d/s  server %5.1f us (user %4.1f, kernel %4.1f)  Redis %4.1f us  whole box %5.1f us (idle %2.0f%%)",
      rps, (y[3] - x[3] + y[4] - x[4]) * us, (y[3] - x[3]) * us, (y[4] - x[4]) * us, (y[5] - x[5]) * us,
      (y[1] - x[1]) * us, 100 * (y[2] - x[2]) / (y[1] - x[1] + y[2] - x[2]) }'
}

drive "$CEIL_PORT" "$WARMUP" "$RUN_DIR/warm.tokens" >/dev/null # its JIT, once: it keeps running through every round

for ((round = 1; round <= ROUNDS; round++)); do
  for jar in "$@"; do
    free_port GW_PORT
    free_port MGMT_PORT
    OPENTIME_HTTP_HOST=127.0.0.1 OPENTIME_HTTP_PORT=$GW_PORT OPENTIME_MANAGEMENT_HOST=127.0.0.1 \
      OPENTIME_MANAGEMENT_PORT=$MGMT_PORT OPENTIME_REDIS_URL=redis://127.0.0.1:$REDIS_PORT OPENTIME_TOKEN_KEYS=$TOKEN_KEYS \
      OPENTIME_AMP_SENDERS=$SENDER OPENTIME_REDIS_DEADLINE=$DEADLINE \
      java $GATEWAY_JAVA_OPTS -jar "$jar" serve >"$RUN_DIR/gateway.log" 2>&1 </dev/null &
    GW_PID=$!
    wait_http "$GW_PID" "$GW_PORT" gateway "$RUN_DIR/gateway.log"
    drive "$GW_PORT" "$WARMUP" "$RUN_DIR/warm.tokens" >/dev/null
    ceiling=$(measure "$CEIL_PORT" "$CEIL_PID")
    gateway=$(measure "$GW_PORT" "$GW_PID")
    stop_pid "$GW_PID" gateway
    GW_PID=""
    echo "round $round  $jar"
    echo "  ceiling  $ceiling"
    echo "  gateway  $gateway"
  done
done
