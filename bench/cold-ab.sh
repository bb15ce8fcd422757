#!/usr/bin/env bash
# bench/cold-ab.sh: what a cold answer costs, one gateway build against another, on this machine (loopback only).
#
#   bash bench/cold-ab.sh BUILD [BUILD...]    e.g. bash bench/cold-ab.sh /tmp/before.jar target/opentime-gateway.jar
#
# A BUILD is a gateway jar, optionally followed (in the same argument) by the JVM options to run it with instead of
# GATEWAY_JAVA_OPTS: bash bench/cold-ab.sh target/opentime-gateway.jar "target/opentime-gateway.jar -Xms2g -Xmx2g"
# compares two settings of one build (the jar's path must then have no spaces). Words of the form NAME=value
# among them are set in that gateway's environment instead (its configuration), e.g.
# "target/opentime-gateway.jar OPENTIME_REDIS_BATCH_WINDOW=0us"; JAVA_HOME=DIR runs that gateway on DIR/bin/java
# (another runtime; the ceiling and the tools stay on the java on PATH). Every gateway reads the working tree's
# conf/application.yaml: a build older than a key added there refuses to start (compare settings of one jar then).
#
# bench/run.sh tells whether the cold target passes; this script tells whether a change to the cold path helped,
# which the ratio alone cannot on a machine whose speed drifts by 10-20% within minutes. It starts a Redis with
# READERS profiles and the ceiling server (warmed once: it runs throughout), then for each of ROUNDS rounds and each
# BUILD in turn (A B A B ...): a fresh gateway, WARMUP of wrk on 10,000 readers (cached, and the JIT's warm-up), then
# MISS_WARMUP on 20,000 readers with no profile (w0..; misses, as in bench/run.sh before its cold rounds: without it
# C2 was still recompiling for misses in the measured run: 3.3-4.9 us per answer, 0.8-1.8 with it), then
# DURATION of wrk on the ceiling and DURATION on the gateway, both on random readers the gateway has not seen. For
# each pair it prints the answers per second and, per answer, the CPU of the server (user, kernel), of Redis and of
# the whole machine (from /proc), and the gateway's heap allocation and GC pauses (from its /metrics; the JVM counts
# allocation at each young collection, so that figure is good to about one collection's worth): compare these
# across builds, not one run's ratio.
#
# Knobs (environment): ROUNDS (3), READERS (1000000), DURATION (10s), WARMUP (20s), MISS_WARMUP (5s), CONNECTIONS
# (64), THREADS (2), GATEWAY_JAVA_OPTS (the Dockerfile's, as bench/run.sh), OPENTIME_REDIS_DEADLINE (25ms), FILL (0).
# About 1 minute per pair plus a minute of setup.
#
# FILL=N first fills each gateway's cache with N more readers (u<READERS>.. : profiles of their own, each read once,
# in order, after the warm-ups), so that the measured run meets a cache that large, as bench/run.sh's later cold rounds do: a
# fresh gateway's cache holds a few hundred thousand profiles by the end of its 10 s, and what a miss costs grows
# with the cache (the collector, Caffeine, the CPU's caches). About 1 minute more per gateway for FILL=1000000.
#
# FLOOR=1 also measures, once per round (before that round's gateways start), two floors: the ceiling
# server in floor mode (bench/CeilingServer.java), which answers the same bytes after one Redis read of a random cold
# reader and does nothing else: "floor hmget" reads the gateway's hash (HMGET of the eleven schema fields), "floor
# get" one 120-byte string per reader (stored first, about 10 s). They bound what any server keeps of the ceiling on
# this machine with that Redis read per answer, and so what the cold target can ask of the gateway.
#
# PROFILE=1 also records where each gateway's CPU goes while it is measured: async-profiler (fetched once from Maven
# Central, tools.profiler:async-profiler, linux-x64), attached for the measured run only, writes a flame graph and
# the collapsed stacks to the run's directory, and bench/profile-summary.awk prints their sum by category. The
# profiler costs a few percent of CPU: compare profiled runs with profiled runs. PROFILE_EVENT=alloc samples heap
# allocation instead of CPU (every 64 KiB allocated, by the allocating stack; the flame graph and the collapsed stacks
# then weigh stacks by bytes, and the summary's shares are shares of the bytes allocated).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

(( $# >= 1 )) || die "usage: bash bench/cold-ab.sh BUILD [BUILD...] (BUILD: a jar, optionally \"JAR JVM-OPTIONS\")"
for b in "$@"; do
  j=${b%% *}
  [[ -f $j ]] || die "no such jar: $j (build one with: mvn -B -ntp -DskipTests package)"
done
TOOL_JAR=${1%% *} # runs Redis, the loader, the token command and the ceiling (the same for every build compared)
ROUNDS=${ROUNDS:-3}
READERS=${READERS:-1000000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
GATEWAY_JAVA_OPTS=${GATEWAY_JAVA_OPTS-$(gateway_jvm_defaults)}
DEADLINE=${OPENTIME_REDIS_DEADLINE:-25ms}
SENDER=bench@opentime.example
WARM_READERS=10000
MISS_READERS=20000 # w0..w19999: no profile in Redis, so every first read of one is a Redis round trip
MISS_WARMUP=${MISS_WARMUP:-5s}
FILL=${FILL:-0}
[[ $FILL =~ ^[0-9]+$ ]] || die "FILL must be a number of readers, not '$FILL'"
(( READERS > 2 * WARM_READERS )) || die "READERS must be above $((2 * WARM_READERS))"
PROFILE=${PROFILE:-}
PROFILE_EVENT=${PROFILE_EVENT:-cpu}
case $PROFILE_EVENT in
  cpu) PROFILE_START="start,event=cpu,interval=1ms" PROFILE_TOTAL="" PROFILE_WHAT="CPU" ;;
  alloc) PROFILE_START="start,event=alloc,alloc=64k" PROFILE_TOTAL=",total" PROFILE_WHAT="heap allocation" ;;
  *) die "PROFILE_EVENT must be cpu or alloc, not '$PROFILE_EVENT'" ;;
esac
FLOOR=${FLOOR:-}
require_tools java wrk curl awk
OUT=$ROOT/bench/out
RUN_DIR=$OUT/cold-ab-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
GW_PID="" CEIL_PID="" REDIS_PID="" FLOOR_H_PID="" FLOOR_G_PID=""
cleanup() {
  resume_paused # a stopped server cannot act on SIGTERM
  stop_pid "$GW_PID" gateway; stop_pid "$CEIL_PID" ceiling; stop_pid "$FLOOR_H_PID" "floor hmget"
  stop_pid "$FLOOR_G_PID" "floor get"; stop_pid "$REDIS_PID" redis
  release_lock "$BENCH_LOCK"
}
exit_traps cleanup
acquire_lock "$BENCH_LOCK" bench/cold-ab.sh 10 "$LOAD_LOCK"

if [[ -n $PROFILE ]]; then
  async_profiler "$OUT" "$RUN_DIR/profiler-fetch.log" || die "PROFILE=1: $AP_WHY"
fi
profiler_in() { # PID COMMAND: async-profiler's COMMAND (start,... / dump,... / stop,...) in that JVM
  profiler "$1" "$2" "$RUN_DIR/profiler.log" \
    || die "async-profiler: '$2' failed in pid $1 (see ${RUN_DIR#"$ROOT"/}/profiler.log)"
}

redis_server_bin "$TOOL_JAR" "$OUT"
start_redis "$RUN_DIR"
java -cp "$TOOL_JAR" "$HERE/LoadProfiles.java" "redis://127.0.0.1:$REDIS_PORT" $((READERS + FILL)) \
  >"$RUN_DIR/load.log" 2>&1 || { cat "$RUN_DIR/load.log"; die "loading profiles failed"; }
TOKEN_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
mint() { # FIRST LAST FILE [PREFIX]: tokens of readers PREFIX<FIRST>..PREFIX<LAST> (PREFIX: u), by the gateway's command
  seq "$1" "$2" | sed "s/^/${4:-u}/" | OPENTIME_TOKEN_KEYS=$TOKEN_KEYS java -jar "$TOOL_JAR" token --uids-file - --ttl 1d \
    >"$3" 2>"$RUN_DIR/token.log" || { cat "$RUN_DIR/token.log"; die "minting tokens failed"; }
}
mint 0 $((WARM_READERS - 1)) "$RUN_DIR/warm.tokens"
mint "$WARM_READERS" $((READERS - 1)) "$RUN_DIR/cold.tokens"
mint 0 $((MISS_READERS - 1)) "$RUN_DIR/misses.tokens" w
(( FILL == 0 )) || mint "$READERS" $((READERS + FILL - 1)) "$RUN_DIR/fill.tokens"

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
jvm_sample() { # MGMT_PORT -> "allocated_bytes gc_pauses gc_pause_seconds" from the gateway's /metrics, now
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
    /^jvm_gc_memory_allocated_bytes_total / { a = $2 }
    /^jvm_gc_pause_seconds_count\{/ { n += $NF }
    /^jvm_gc_pause_seconds_sum\{/ { t += $NF }
    END { printf "%.0f %d %.6f", a, n, t }'
}
measure() { # PORT PID [MGMT_PORT [PROFILE_NAME]] -> one line: answers/s and costs per answer over one DURATION run
  local a b ja="" jb="" rps
  [[ -z ${4:-} ]] || profiler_in "$2" "$PROFILE_START"
  [[ -z ${3:-} ]] || ja=$(jvm_sample "$3")
  a=$(sample "$2")
  rps=$(drive "$1" "$DURATION" "$RUN_DIR/cold.tokens")
  b=$(sample "$2")
  [[ -z ${3:-} ]] || jb=$(jvm_sample "$3")
  if [[ -n ${4:-} ]]; then
    profiler_in "$2" "dump,file=$RUN_DIR/$4.html$PROFILE_TOTAL"
    profiler_in "$2" "stop,file=$RUN_DIR/$4.collapsed,collapsed$PROFILE_TOTAL"
  fi
  awk -v a="$a" -v b="$b" -v ja="$ja" -v jb="$jb" -v rps="$rps" -v d="${DURATION%s}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); n = rps * d; us = 1e6 / hz / n
    printf "%6d/s  server %5.1f us (user %4.1f, kernel %4.1f)  Redis %4.1f us  whole box %5.1f us (idle %2.0f%%)",
      rps, (y[3] - x[3] + y[4] - x[4]) * us, (y[3] - x[3]) * us, (y[4] - x[4]) * us, (y[5] - x[5]) * us,
      (y[1] - x[1]) * us, 100 * (y[2] - x[2]) / (y[1] - x[1] + y[2] - x[2])
    if (ja != "" && jb != "") {
      split(ja, p, " "); split(jb, q, " ")
      printf "\n           heap allocated %.1f KiB per answer; %d GC pauses, %.0f ms in all", (q[1] - p[1]) / n / 1024,
        q[2] - p[2], (q[3] - p[3]) * 1000
    } }'
}

fill() { # PORT MGMT_PORT: reads every fill reader once, in order; CACHED: the cache's size then
  OPENTIME_SEQUENTIAL=$THREADS drive "$1" "$FILL_S"s "$RUN_DIR/fill.tokens" >/dev/null
  CACHED=$(curl -s --max-time 5 "http://127.0.0.1:$2/metrics" \
    | awk '/^cache_size\{.*cache="profiles"/ { printf "%.0f", $2 }')
}
FILL_S=$(awk -v n="$FILL" -v c="$CONNECTIONS" 'BEGIN { s = 1.3 * n / (c * 300); print (s < 10 ? 10 : int(s) + 1) }')

drive "$CEIL_PORT" "$WARMUP" "$RUN_DIR/warm.tokens" >/dev/null # its JIT, once: it keeps running through every round
if [[ -n $FLOOR ]]; then
  for mode in hmget get; do
    free_port port
    java -cp "$TOOL_JAR" "$HERE/CeilingServer.java" "$port" "redis://127.0.0.1:$REDIS_PORT" "$mode" "$WARM_READERS" \
      $((READERS - 1)) >"$RUN_DIR/floor-$mode.log" 2>&1 </dev/null &
    if [[ $mode == hmget ]]; then FLOOR_H_PID=$! FLOOR_H_PORT=$port; else FLOOR_G_PID=$! FLOOR_G_PORT=$port; fi
    wait_http "$!" "$port" "floor $mode" "$RUN_DIR/floor-$mode.log"
    drive "$port" "$WARMUP" "$RUN_DIR/warm.tokens" >/dev/null
  done
fi

for ((round = 1; round <= ROUNDS; round++)); do
  if [[ -n $FLOOR ]]; then
    echo "round $round  floors (the ceiling's answers after one Redis read each; nothing else)"
    echo "  floor hmget  $(measure "$FLOOR_H_PORT" "$FLOOR_H_PID")"
    echo "  floor get    $(measure "$FLOOR_G_PORT" "$FLOOR_G_PID")"
  fi
  build=0
  for b in "$@"; do
    build=$((build + 1))
    jar=${b%% *}
    opts=$GATEWAY_JAVA_OPTS
    [[ $b != *" "* ]] || opts=${b#* }
    jvm_opts=()
    gw_env=()
    read -ra words <<<"$opts" # split on blanks, no glob expansion (-Xlog:gc* stays as written)
    java_bin=java
    for word in ${words[@]+"${words[@]}"}; do
      if [[ $word =~ ^[A-Z_][A-Z0-9_]*= ]]; then gw_env+=("$word"); else jvm_opts+=("$word"); fi
      [[ $word != JAVA_HOME=* ]] || java_bin=${word#JAVA_HOME=}/bin/java
    done
    [[ -x $java_bin ]] || command -v "$java_bin" >/dev/null || die "no java at $java_bin"
    free_port GW_PORT
    free_port MGMT_PORT
    OPENTIME_HTTP_HOST=127.0.0.1 OPENTIME_HTTP_PORT=$GW_PORT OPENTIME_MANAGEMENT_HOST=127.0.0.1 \
      OPENTIME_MANAGEMENT_PORT=$MGMT_PORT OPENTIME_REDIS_URL=redis://127.0.0.1:$REDIS_PORT OPENTIME_TOKEN_KEYS=$TOKEN_KEYS \
      OPENTIME_AMP_SENDERS=$SENDER OPENTIME_REDIS_DEADLINE=$DEADLINE env ${gw_env[@]+"${gw_env[@]}"} \
      "$java_bin" ${jvm_opts[@]+"${jvm_opts[@]}"} -jar "$jar" serve >"$RUN_DIR/gateway.log" 2>&1 </dev/null &
    GW_PID=$!
    wait_http "$GW_PID" "$GW_PORT" gateway "$RUN_DIR/gateway.log"
    drive "$GW_PORT" "$WARMUP" "$RUN_DIR/warm.tokens" >/dev/null
    drive "$GW_PORT" "$MISS_WARMUP" "$RUN_DIR/misses.tokens" >/dev/null
    if (( FILL > 0 )); then
      fill "$GW_PORT" "$MGMT_PORT"
    fi
    # each server is measured while the other is paused (SIGSTOP): work left over from the gateway's warm-up (its
    # collector's) is done in its own run, not charged to the ceiling's
    pause_pid "$GW_PID"
    ceiling=$(measure "$CEIL_PORT" "$CEIL_PID")
    resume_paused
    name=""
    [[ -z $PROFILE ]] || name=profile-round$round-jar$build-$(basename "$jar" .jar)
    pause_pid "$CEIL_PID"
    gateway=$(measure "$GW_PORT" "$GW_PID" "$MGMT_PORT" "$name")
    resume_paused
    stop_pid "$GW_PID" gateway
    GW_PID=""
    echo "round $round  $jar  ($opts)"
    echo "  ceiling  $ceiling"
    echo "  gateway  $gateway"
    (( FILL == 0 )) || echo "           profiles cached before the measured run: ${CACHED:-?} (FILL=$FILL)"
    if [[ -n $PROFILE ]]; then
      echo "  gateway $PROFILE_WHAT by category (flame graph: ${RUN_DIR#"$ROOT"/}/$name.html):"
      awk -f "$HERE/profile-summary.awk" "$RUN_DIR/$name.collapsed" | sed 's/^/    /'
    fi
  done
done
