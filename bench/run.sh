#!/usr/bin/env bash
# Opentime benchmark: the gateway against a bare Vert.x "ceiling" server, on this machine, loopback only.
# Usage (from the repo root): bash bench/run.sh        Knobs and how to read the output: bench/README.md
set -euo pipefail
# The whole script is one block, parsed before it runs: editing this file while a run is going on cannot change it.
{
# die, stop_pid, free_port, redis_ping, start_redis, locks, CPU ticks ...: bench/lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------
DURATION=${DURATION:-10s}        # length of every measured wrk run
CONNECTIONS=${CONNECTIONS:-64}   # wrk -c
THREADS=${THREADS:-2}            # wrk -t
ROUNDS=${ROUNDS:-3}              # A/B rounds (ceiling, gateway) of the hot, fragment, pixel, warm and cold scenarios
READERS=${READERS:-1000000}      # random readers of the stalled scenario and of each cold round (ROUNDS x READERS
                                 # profiles are loaded: every cold round reads readers no earlier round has read)
WARMUP=${WARMUP:-5s}             # wrk warm-up of each freshly started server (not measured)
STALL_AFTER=${STALL_AFTER:-1}    # seconds into the stalled run at which Redis is SIGSTOPped
PROFILE_MISSES=${PROFILE_MISSES:-1} # 1: a missed throughput target is followed by a profiled run that shows why
STALL_OPEN_SHARE=${STALL_OPEN_SHARE-0.5} # the stall again at this share of the cold median, open loop ("" skips)
JAVA_OPTS=${JAVA_OPTS:-}         # extra JVM options, given to the gateway and the ceiling alike
# The gateway's own JVM options: the Dockerfile's (its heap size there is relative to the container's memory; here
# the JVM default; the memory scenario drops any -Xms/-Xmx given here: MEMORY_JAVA_OPTS sets its heap).
GATEWAY_JAVA_OPTS=${GATEWAY_JAVA_OPTS-$(gateway_jvm_defaults)}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-144}  # connections of the paced hot run
PACE_MS=${PACE_MS:-1}            # ms each connection waits between requests in the paced hot run
OPENLOOP_SHARES=${OPENLOOP_SHARES-0.25 0.50 0.70}  # open-loop hot rates, as shares of the gateway's open-loop max ("" skips)
OPENLOOP_GENERATOR=${OPENLOOP_GENERATOR:-openloop} # openloop (bench/openloop/openloop.c, built with gcc) or hyperfoil
OPENLOOP_CONNECTIONS=${OPENLOOP_CONNECTIONS:-256}  # keep-alive connections the open-loop generator opens
OPENLOOP_WARMUP=${OPENLOOP_WARMUP:-15s}            # unmeasured first rate (the servers' and Hyperfoil's JIT)
OPENLOOP_THREADS=${OPENLOOP_THREADS:-1}            # Hyperfoil only: its event loops (each can take a core)
OPENLOOP_ROUNDS=${OPENLOOP_ROUNDS:-3}              # rounds of (max, ceiling, gateway) at the top share; median p99
OPENLOOP_CEILING_OWN=${OPENLOOP_CEILING_OWN:-1}    # 1: each round also runs the ceiling at the top share of its OWN max
OPENLOOP_JAVA_OPTS=${OPENLOOP_JAVA_OPTS:--Xms1g -Xmx1g -XX:+UseParallelGC -XX:+AlwaysPreTouch}  # Hyperfoil's JVM
MEMORY_READERS=${MEMORY_READERS:-1000000}  # profiles cached for the memory figure (0 skips that scenario)
MEMORY_JAVA_OPTS=${MEMORY_JAVA_OPTS:--Xmx768m}  # the memory scenario's gateway: a heap sized for a million profiles
MEMORY_CONNECTIONS=${MEMORY_CONNECTIONS:-32}     # connections of the memory scenario's paced walk (1 ms pauses)
WARM_READERS=${WARM_READERS:-10000}          # readers of the warm scenario (all fit in the cache)
WARMUP_READERS=20000             # readers w0..w19999 (no profile in Redis) used to warm restarted gateways
PROBE_READERS=20                 # readers p0..p19, used once each to see Redis answering again after the stall
SENDER=bench@opentime.example
BODY='{"items":[{"first_name":"Ada","loyalty_tier":"gold"}]}'

START_DIR=$(pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

resolve_jar "$START_DIR" "$ROOT"
require_jar

# "10s", "1m", "2h" or a plain number of seconds -> seconds
to_seconds() {
  local d=$1
  case $d in
    *[0-9]s) echo "${d%s}" ;;
    *[0-9]m) echo $(( ${d%m} * 60 )) ;;
    *[0-9]h) echo $(( ${d%h} * 3600 )) ;;
    *[0-9]) echo "$d" ;;
    *) die "cannot read duration '$d' (use e.g. 10s, 1m)" ;;
  esac
}
# "25ms", "1s" -> milliseconds
to_millis() {
  local d=$1
  case $d in
    *[0-9]ms) echo "${d%ms}" ;;
    *[0-9]s) echo $(( ${d%s} * 1000 )) ;;
    *) die "cannot read OPENTIME_REDIS_DEADLINE '$d' (use e.g. 25ms)" ;;
  esac
}

DURATION_S=$(to_seconds "$DURATION")
WARMUP_S=$(to_seconds "$WARMUP")
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $READERS =~ ^[1-9][0-9]*$ ]] || die "READERS must be a positive integer"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS and THREADS must be positive integers"
[[ $OPENLOOP_ROUNDS =~ ^[1-9][0-9]*$ ]] || die "OPENLOOP_ROUNDS must be a positive integer"
[[ $OPENLOOP_CEILING_OWN == [01] ]] || die "OPENLOOP_CEILING_OWN must be 0 or 1, not '$OPENLOOP_CEILING_OWN'"
(( CONNECTIONS >= THREADS )) || die "CONNECTIONS must be >= THREADS"
(( DURATION_S > STALL_AFTER + 1 )) || die "DURATION must be longer than $((STALL_AFTER + 1))s for the stalled scenario"
DEADLINE=${OPENTIME_REDIS_DEADLINE:-25ms}
DEADLINE_MS=$(to_millis "$DEADLINE")
STALL_P99_MS=$(( DEADLINE_MS + 10 ))

# ---------------------------------------------------------------------------------------------------------------
# Output: everything to the terminal and to bench/out/results-<timestamp>.txt; logs in bench/out/run-<timestamp>/
# ---------------------------------------------------------------------------------------------------------------
# Another load on this machine (load-tests/run.sh holds LOAD_LOCK while it runs, the other benchmarks BENCH_LOCK) would
# skew every number: wait while one runs (a stale lock, whose pid is gone, is ignored), then hold BENCH_LOCK.
acquire_lock "$BENCH_LOCK" bench/run.sh 10 "$LOAD_LOCK"
OUT=$ROOT/bench/out
TS=$(date +%Y%m%d-%H%M%S)
RUN_DIR=$OUT/run-$TS
mkdir -p "$RUN_DIR"
RESULTS=$OUT/results-$TS.txt
tee_output "$RESULTS"

# ---------------------------------------------------------------------------------------------------------------
# Processes: every one we start is remembered here and stopped on exit, Ctrl-C or error
# ---------------------------------------------------------------------------------------------------------------
REDIS_PID=""
REDIS_STOPPED=0
GW_PID=""
CEIL_PID=""
WRK_PID=""

cleanup() { # RC (exit_traps)
  local rc=$1
  if [[ -n $WRK_PID ]]; then stop_pid "$WRK_PID" wrk; WRK_PID=""; fi
  resume_paused   # a stopped server cannot act on SIGTERM
  if [[ -n $REDIS_PID ]]; then
    kill -CONT "$REDIS_PID" 2>/dev/null   # a stopped Redis cannot act on SIGTERM
    REDIS_STOPPED=0
  fi
  stop_pid "$GW_PID" gateway; GW_PID=""
  stop_pid "$CEIL_PID" ceiling; CEIL_PID=""
  stop_pid "$REDIS_PID" redis; REDIS_PID=""
  release_lock "$BENCH_LOCK"
  if (( rc != 0 )); then
    echo "bench/run.sh stopped (exit $rc); logs in ${RUN_DIR#"$ROOT"/}/, output in ${RESULTS#"$ROOT"/}"
  fi
  close_output
}
exit_traps cleanup

# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------
# Open loop: requests offered at fixed arrival rates, one rate after the other in one generator process, the first
# rate also run once before, unmeasured, as a warm-up. Latency counts from each request's scheduled start, so a
# stalled answer is not hidden by the ones it held back. Two generators: bench/openloop/openloop.c (default; C,
# one thread, about 17 us of CPU per request on this machine, nearly all of it the kernel's loopback TCP; it tells
# its own lateness, lag_p99, from the wait for a free connection, wait_p99, the server's) and
# Hyperfoil (bench/openloop/pom.xml; a JVM, about twice that, kept to cross-check the C one at low rates).
OPENLOOP_POM=$ROOT/bench/openloop/pom.xml
OPENLOOP_BIN=$OUT/openloop
OL_N=0
OL_RESULTS=()   # one "rate achieved p50 p90 p99 p999 max errors lag_p99 wait_p99" line per rate of the last run_openloop
run_openloop() { # LABEL PORT TOKEN RATE... -> OL_RESULTS
  case $OPENLOOP_GENERATOR in
    openloop) run_openloop_c "$@" ;;
    hyperfoil) run_hyperfoil "$@" ;;
    *) die "OPENLOOP_GENERATOR: '$OPENLOOP_GENERATOR' is neither openloop nor hyperfoil" ;;
  esac
}

build_openloop() { # compiles bench/openloop/openloop.c into bench/out/openloop
  require_tools gcc
  gcc -O2 -Wall -Werror -o "$OPENLOOP_BIN.tmp" "$ROOT/bench/openloop/openloop.c" \
    || die "could not build bench/openloop/openloop.c (gcc)"
  mv -f "$OPENLOOP_BIN.tmp" "$OPENLOOP_BIN"
}

await_openloop() { # LABEL LOG: waits for the generator started in the background ($WRK_PID); dies if it failed
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  (( rc == 0 )) || { tail -n 20 "$2"; die "open-loop run '$1' failed (exit $rc, log ${2#"$ROOT"/})"; }
}

run_openloop_c() { # LABEL PORT TOKEN RATE... -> OL_RESULTS
  local label=$1 port=$2 token=$3 rates=("${@:4}") log secs warm rate
  OL_N=$((OL_N + 1))
  log=$RUN_DIR/openloop-$OL_N-$label.txt
  secs=$(to_seconds "$DURATION")
  warm=$(to_seconds "$OPENLOOP_WARMUP")
  busy_warning
  timeout --kill-after=5 $(( warm + ${#rates[@]} * (secs + 3) + 60 )) \
    "$OPENLOOP_BIN" -p "$port" -r "$(IFS=,; echo "${rates[*]}")" -d "$secs" -w "$warm" -c "$OPENLOOP_CONNECTIONS" \
    -H "AMP-Email-Sender: $SENDER" "/v1/amp/greeting?t=$token" >"$log" 2>&1 </dev/null &
  WRK_PID=$!   # stopped by cleanup like a wrk run
  await_openloop "$label" "$log"
  OL_RESULTS=()
  for rate in "${rates[@]}"; do
    OL_RESULTS+=("$rate $(openloop_c_result "$rate" "$log")")
  done
}

openloop_c_result() { # RATE LOG -> "achieved p50 p90 p99 p999 max errors lag_p99 wait_p99" (ms), from openloop's RESULT line
  awk -v rate="$1" '
    $1 == "RESULT" {
      split("", f)
      for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["rate"] == rate) {
        printf "%s %s %s %s %s %s %d %s %s\n", f["achieved"], f["p50"], f["p90"], f["p99"], f["p999"], f["max"],
          f["errors"] + f["non2xx"] + f["unsent"], f["lag_p99"], f["wait_p99"]
        found = 1
      }
    }
    END { if (!found) print "? ? ? ? ? ? ? ? ?" }' "$2"
}

run_hyperfoil() { # LABEL PORT TOKEN RATE... -> OL_RESULTS
  local label=$1 port=$2 token=$3 rates=("${@:4}") yaml log prev="" rate secs sessions
  OL_N=$((OL_N + 1))
  yaml=$RUN_DIR/openloop-$OL_N-$label.yaml
  log=$RUN_DIR/openloop-$OL_N-$label.txt
  secs=$(to_seconds "$DURATION")
  {
    echo "name: opentime-$label"
    echo "http:"
    echo "  host: http://127.0.0.1:$port"
    echo "  sharedConnections: $OPENLOOP_CONNECTIONS"
    echo "threads: $OPENLOOP_THREADS"
    echo "phases:"
    local name r dur
    for rate in warmup "${rates[@]}"; do
      if [[ $rate == warmup ]]; then name=warmup; r=${rates[0]}; dur=$(to_seconds "$OPENLOOP_WARMUP"); else name=r$rate; r=$rate; dur=$secs; fi
      sessions=$(( r / 2 > 1000 ? r / 2 : 1000 ))   # sessions in flight at most: half a second of arrivals
      echo "- $name:"
      echo "    constantRate:"
      [[ $name == warmup ]] || echo "      startAfter: $prev"
      echo "      usersPerSec: $r"
      echo "      duration: ${dur}s"
      echo "      maxSessions: $sessions"
      echo "      scenario:"
      echo "      - request:"
      echo "        - httpRequest:"
      echo "            GET: \"/v1/amp/greeting?t=$token\""
      echo "            headers:"
      echo "              AMP-Email-Sender: $SENDER"
      prev=$name
    done
  } >"$yaml"
  busy_warning
  MAVEN_OPTS=$OPENLOOP_JAVA_OPTS timeout --kill-after=5 $(( $(to_seconds "$OPENLOOP_WARMUP") + ${#rates[@]} * secs + 300 )) \
    mvn -B -q -ntp -f "$OPENLOOP_POM" io.hyperfoil:hyperfoil-maven-plugin:run -Dhyperfoil.yaml="$yaml" \
    >"$log" 2>&1 </dev/null &
  WRK_PID=$!   # stopped by cleanup like a wrk run
  await_openloop "$label" "$log"
  OL_RESULTS=()
  for rate in "${rates[@]}"; do
    OL_RESULTS+=("$rate $(openloop_phase "r$rate" "$log") - -")
  done
}

openloop_phase() { # PHASE LOG -> "achieved p50 p90 p99 p999 max errors" (ms), from Hyperfoil's per-phase report
  awk -v phase="$1" '
    $0 ~ ("\\] " phase "/[^ ]*: *$") { on = 1; next }
    on && /\] [^ ]+\/[^ ]+: *$/ { on = 0 }
    !on { next }
    /Requests\/sec:/ { rps = $NF }
    (NF == 4 || NF == 3) && $2 ~ /^[01]\.[0-9]+$/ {  # the last line (percentile 1.0) has no 4th column
      if (p50 == "" && $2 >= 0.5) p50 = $1
      if (p90 == "" && $2 >= 0.9) p90 = $1
      if (p99 == "" && $2 >= 0.99) p99 = $1
      if (p999 == "" && $2 >= 0.999) p999 = $1
    }
    /^#\[Max/ { if (match($0, /Max *= *[0-9.]+/)) { max = substr($0, RSTART, RLENGTH); sub(/.*= */, "", max) } }
    /Socket errors:/ { gsub(/,/, ""); errs += $(NF - 4) + $(NF - 2) + $NF }
    /Non-2xx or 3xx responses:/ { errs += $NF }
    END {
      if (rps == "" || p99 == "") { print "? ? ? ? ? ? ?"; exit }
      printf "%.0f %.3f %.3f %.3f %.3f %.3f %d\n", rps, p50 / 1000, p90 / 1000, p99 / 1000, p999 / 1000, max / 1000, errs
    }' "$2"
}

GW_N=0
GW_PORT=""
GW_LOG=""
start_gateway() {
  GW_N=$((GW_N + 1))
  free_port GW_PORT
  GW_LOG=$RUN_DIR/gateway-$GW_N.log
  # shellcheck disable=SC2086
  free_port GW_MGMT_PORT
  OPENTIME_HTTP_HOST=127.0.0.1 OPENTIME_HTTP_PORT=$GW_PORT OPENTIME_REDIS_URL=redis://127.0.0.1:$REDIS_PORT \
    OPENTIME_MANAGEMENT_HOST=127.0.0.1 OPENTIME_MANAGEMENT_PORT=$GW_MGMT_PORT \
    OPENTIME_TOKEN_KEYS=$TOKEN_KEYS OPENTIME_AMP_SENDERS=$SENDER OPENTIME_REDIS_DEADLINE=$DEADLINE \
    java $JAVA_OPTS $GATEWAY_JAVA_OPTS -jar "$JAR" serve >"$GW_LOG" 2>&1 </dev/null &
  GW_PID=$!
  wait_http "$GW_PID" "$GW_PORT" "gateway #$GW_N" "$GW_LOG"
  echo "  gateway #$GW_N: pid $GW_PID, http://127.0.0.1:$GW_PORT, log ${GW_LOG#"$ROOT"/}"
}

stop_gateway() {
  stop_pid "$GW_PID" gateway
  GW_PID=""
}

rss_of() { # PID -> "123.4 MiB"
  awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

live_heap() { # PID -> bytes of live objects on its heap (jcmd's class histogram: a full collection first), or "?"
  { jcmd "$1" GC.class_histogram 2>/dev/null || true; } | awk '$1 == "Total" { b = $3 } END { print (b == "" ? "?" : b) }'
}

bench_ticks() { # "busy idle ours": machine CPU ticks, and ticks of the processes this script started
  cpu_ticks "$(pid_ticks "$GW_PID" "$CEIL_PID" "$REDIS_PID")"
}
# cpu_busy SECONDS bench_ticks -> "busy% others%": all CPU time busy over that interval, and the part not ours

BUSY_WARNINGS=0
busy_warning() { # warns when other processes keep the CPUs busy just before a run (they skew the numbers)
  local busy others
  read -r busy others < <(cpu_busy 0.5 bench_ticks)
  if (( others > 15 )); then
    BUSY_WARNINGS=$((BUSY_WARNINGS + 1))
    echo "  WARNING: other processes kept the CPUs ${others}% busy in the 0.5 s before the next run (load $(cut -d' ' -f1-3 /proc/loadavg))"
  elif (( busy > 15 )); then
    echo "  note: the CPUs were ${busy}% busy before the next run, by the gateway/ceiling/Redis themselves (JIT, GC, refreshes)"
  fi
}

# RESULT line of the last wrk run, and its fields
RESULT=""
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$RESULT"; }

# The stalled runs: Redis SIGSTOPped while the load generator started in the background ($WRK_PID) runs, resumed
# once it has ended.
stop_redis_during() { # WHAT: SIGSTOPs Redis, saying so, if the load generator still runs
  if kill -0 "$WRK_PID" 2>/dev/null; then
    kill -STOP "$REDIS_PID"
    REDIS_STOPPED=1
    echo "  $(date +%T) Redis SIGSTOPped (pid $REDIS_PID), ${STALL_AFTER}s into $1"
  fi
}
LOAD_RC=0
wait_load() { # -> LOAD_RC: waits for the load generator's exit status, then resumes Redis if it is stopped
  LOAD_RC=0
  wait "$WRK_PID" || LOAD_RC=$?
  WRK_PID=""
  if (( REDIS_STOPPED )); then
    kill -CONT "$REDIS_PID"
    REDIS_STOPPED=0
    echo "  $(date +%T) Redis SIGCONTed at the end of the run"
  fi
}

WRK_LUA=$ROOT/bench/wrk/greeting.lua
WRK_N=0
run_wrk() { # LABEL PORT TOKENS DURATION [STALL] -> RESULT
  local label=$1 port=$2 tokens=$3 dur=$4 stall=${5:-} secs log rc=0
  WRK_N=$((WRK_N + 1))
  secs=$(to_seconds "$dur")
  log=$RUN_DIR/wrk-$(printf '%02d' "$WRK_N")-$label.txt
  busy_warning
  # stdbuf: wrk's "Running ..." line (printed once every thread is set up) reaches the log at once
  timeout --kill-after=5 $((secs + 60)) $STDBUF \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --timeout 2s -s "$WRK_LUA" "http://127.0.0.1:$port" -- "$tokens" \
    >"$log" 2>&1 </dev/null &
  WRK_PID=$!
  if [[ -n $stall ]]; then
    for ((i = 0; i < 200; i++)); do   # until the load starts (10 s at most)
      grep -q '^Running' "$log" 2>/dev/null && break
      kill -0 "$WRK_PID" 2>/dev/null || break
      sleep 0.05
    done
    sleep "$STALL_AFTER"
    stop_redis_during "the run"
  fi
  wait_load
  rc=$LOAD_RC
  RESULT=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  if (( rc != 0 )) || [[ -z $RESULT ]]; then
    tail -n 20 "$log"
    die "wrk run '$label' failed (exit $rc, log ${log#"$ROOT"/})"
  fi
}

show_run() { # NAME: one line about the last wrk run
  local errs
  errs=$(( $(field connect_errors) + $(field read_errors) + $(field write_errors) + $(field timeouts) ))
  printf '  %-22s rps=%8s  p50=%7s  p90=%7s  p99=%7s  p99.9=%8s  max=%8s ms  non200=%s  socket_errors=%s%s\n' \
    "$1" "$(field rps)" "$(field p50)" "$(field p90)" "$(field p99)" "$(field p999)" "$(field max)" \
    "$(field non200)" "$errs" "$(sources)"
}

sources() { # the gateway's X-Opentime-Source mix, if any
  local r c s d
  r=$(field src_redis); c=$(field src_cache); s=$(field src_stale); d=$(field src_default)
  if (( r + c + s + d > 0 )); then
    printf '  sources: redis=%s cache=%s stale=%s default=%s' "$r" "$c" "$s" "$d"
  fi
}

# One A/B round: the ceiling, then the gateway, on the same token file. Sets PAIR_CEIL_RPS and the gateway's
# RESULT (read it with field). The server not being measured is paused (SIGSTOP) meanwhile: an idle gateway that has
# just cached a round of cold readers can keep a core busy with its collector's concurrent work. Paused, that work
# waits and is done in the gateway's own next round: each server pays for its own background work.
ab_pair() { # LABEL TOKENS ROUND
  pause_pid "$GW_PID"
  run_wrk "$1-ceiling-$3" "$CEIL_PORT" "$2" "$DURATION"
  resume_paused
  show_run "round $3 ceiling"
  PAIR_CEIL_RPS=$(field rps)
  pause_pid "$CEIL_PID"
  run_wrk "$1-$3" "$GW_PORT" "$2" "$DURATION"
  resume_paused
  show_run "round $3 $1 gateway"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
is_true() { awk "BEGIN { exit !($1) }"; }

SUMMARY=()
PASSED=0
FAILED=0
VERDICT=""
verdict() { # TEXT CONDITION(awk): prints and records the verdict, and sets VERDICT= PASS or FAIL
  if is_true "$2"; then VERDICT=PASS; PASSED=$((PASSED + 1)); else VERDICT=FAIL; FAILED=$((FAILED + 1)); fi
  printf '  %-66s %s\n' "$1" "$VERDICT"
  SUMMARY+=("$(printf '%-76s %s' "$1" "$VERDICT")")
}

# Why a throughput target (hot, fragment, warm, cold) was missed, measured right after its verdict and not part of
# it: one more run of the reference (the ceiling; for the fragment, the gateway's greeting JSON) and one of the
# gateway with async-profiler attached (CPU samples every millisecond; it costs the gateway a few percent), each
# server's CPU per answer from /proc, Redis's too, and the gateway's CPU by category (bench/profile-summary.awk) in
# microseconds per answer, with a flame graph in the run's directory. async-profiler is fetched once from Maven
# Central (bench/lib.sh); where it cannot be had the run says why and goes on. PROFILE_MISSES=0 skips this.
why_missed() { # LABEL TOKENS REF_NAME REF_PID REF_PORT [PATH]: PATH (the gateway's only) as OPENTIME_PATH
  (( PROFILE_MISSES )) || return 0
  local label=$1 tokens=$2 ref=$3 ref_pid=$4 ref_port=$5 path=${6:-} a b r0 r1 ref_us gw_us redis_us secs name
  if [[ -z $AP_LIB && -z $AP_WHY ]]; then # fetched (or found missing) once per run
    async_profiler "$OUT" "$RUN_DIR/profiler-fetch.log" || true
  fi
  if [[ -z $AP_LIB ]]; then
    echo "  why $label: no profile ($AP_WHY)"
    return 0
  fi
  secs=$(to_seconds "$DURATION")
  name=why-$label
  echo "  why $label (not part of the verdict): one more run of the $ref and of the gateway, profiled"
  [[ $ref_pid == "$GW_PID" ]] || pause_pid "$GW_PID"
  [[ $ref_pid == "$CEIL_PID" ]] || pause_pid "$CEIL_PID"
  a=$(pid_ticks "$ref_pid")
  run_wrk "$name-reference" "$ref_port" "$tokens" "$DURATION"
  b=$(pid_ticks "$ref_pid")
  resume_paused
  show_run "$ref"
  ref_us=$(per_answer $((b - a)) "$(field rps)" "$secs")
  pause_pid "$CEIL_PID"
  if ! profiler "$GW_PID" "start,event=cpu,interval=1ms" "$RUN_DIR/profiler.log"; then
    resume_paused
    echo "  why $label: async-profiler could not attach to the gateway (see ${RUN_DIR#"$ROOT"/}/profiler.log)"
    return 0
  fi
  a=$(pid_ticks "$GW_PID")
  r0=$(pid_ticks "$REDIS_PID")
  if [[ -n $path ]]; then export OPENTIME_PATH=$path; fi
  run_wrk "$name" "$GW_PORT" "$tokens" "$DURATION"
  unset OPENTIME_PATH
  b=$(pid_ticks "$GW_PID")
  r1=$(pid_ticks "$REDIS_PID")
  profiler "$GW_PID" "dump,file=$RUN_DIR/$name.html" "$RUN_DIR/profiler.log" || true
  profiler "$GW_PID" "stop,file=$RUN_DIR/$name.collapsed,collapsed" "$RUN_DIR/profiler.log" || true
  resume_paused
  show_run "gateway, profiled"
  gw_us=$(per_answer $((b - a)) "$(field rps)" "$secs")
  redis_us=$(per_answer $((r1 - r0)) "$(field rps)" "$secs")
  echo "    CPU per answer: $ref $ref_us us; gateway $gw_us us (profiled), Redis $redis_us us for it"
  if [[ -s $RUN_DIR/$name.collapsed ]]; then
    echo "    the gateway's $gw_us us by category (flame graph: ${RUN_DIR#"$ROOT"/}/$name.html):"
    awk -v us="$gw_us" -f "$ROOT/bench/profile-summary.awk" "$RUN_DIR/$name.collapsed" | sed 's/^/    /'
  else
    echo "    (async-profiler wrote no samples: see ${RUN_DIR#"$ROOT"/}/profiler.log)"
  fi
}
per_answer() { # TICKS RPS SECONDS -> microseconds of CPU per answer
  awk -v t="$1" -v r="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    if (r > 0) printf "%.1f", t * 1e6 / hz / (r * s); else print "nan" }'
}

check_answer() { # PORT NAME TOKEN: the exact greeting body with 200
  local out code body
  out=$(curl -s --max-time 5 -w '\n%{http_code}' -H "AMP-Email-Sender: $SENDER" \
    "http://127.0.0.1:$1/v1/amp/greeting?t=$3" || true)
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  [[ $code == 200 && $body == "$BODY" ]] || die "$2 answered $code '$body', expected 200 '$BODY'"
}

answer_bytes() { # PORT PATH: status line, headers and body, with the values of the source and age headers blanked
  curl -s -i --max-time 5 -H "AMP-Email-Sender: $SENDER" "http://127.0.0.1:$1$2" \
    | sed -E 's/^(X-Opentime-Source|X-Opentime-Data-Age): [^\r]*/\1: -/I'
}

same_bytes() { # PATH NAME: the ceiling must answer what the gateway answers, byte for byte (but for those two values)
  cmp -s <(answer_bytes "$CEIL_PORT" "$1") <(answer_bytes "$GW_PORT" "$1") \
    || { diff <(answer_bytes "$CEIL_PORT" "$1" | cat -v) <(answer_bytes "$GW_PORT" "$1" | cat -v) || true
         die "the ceiling's $2 answer differs from the gateway's (above: < ceiling, > gateway); bench/CeilingServer.java must return the same bytes"; }
}

# ---------------------------------------------------------------------------------------------------------------
# Machine and tools
# ---------------------------------------------------------------------------------------------------------------
ensure_wrk "$RUN_DIR/apt-wrk.log"
STDBUF=""
command -v stdbuf >/dev/null && STDBUF="stdbuf -oL"
require_tools java curl awk sed sort cmp diff
redis_server_bin "$JAR" "$OUT"
if [[ -n ${OPENLOOP_SHARES// /} ]]; then
  case $OPENLOOP_GENERATOR in
    openloop) build_openloop ;;
    hyperfoil) require_tools mvn ;;
    *) die "OPENLOOP_GENERATOR: '$OPENLOOP_GENERATOR' is neither openloop nor hyperfoil" ;;
  esac
fi

CORES=$(nproc)
echo "== Opentime benchmark $TS"
echo "machine: $(machine_summary)"
echo "java:    $(java -version 2>&1 | head -n 1)"
echo "wrk:     $( (wrk -v 2>&1 || true) | head -n 1)"
echo "redis:   $("$REDIS_BIN" --version | head -n 1)"
echo "jar:     $JAR"
echo "knobs:   DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS ROUNDS=$ROUNDS READERS=$READERS WARMUP=$WARMUP" \
  "OPENTIME_REDIS_DEADLINE=$DEADLINE${JAVA_OPTS:+ JAVA_OPTS=$JAVA_OPTS}${GATEWAY_JAVA_OPTS:+ GATEWAY_JAVA_OPTS=$GATEWAY_JAVA_OPTS}"
echo "note:    wrk, the servers and Redis share these $CORES cores; compare ratios, not absolute numbers across machines"
echo "logs:    ${RUN_DIR#"$ROOT"/}/"
read -r START_BUSY _ < <(cpu_busy 1 bench_ticks)
echo "load:    ${START_BUSY}% CPU busy in the second before the benchmark, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if (( START_BUSY > 10 )); then
  echo "WARNING: the machine is not idle; other processes will skew every number below"
fi

# ---------------------------------------------------------------------------------------------------------------
# Setup: Redis with ROUNDS x READERS profiles, tokens, gateway, ceiling
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== setup"
start_redis "$RUN_DIR"
echo "  redis: pid $REDIS_PID, redis://127.0.0.1:$REDIS_PORT"

# shellcheck disable=SC2086
timeout 600 java $JAVA_OPTS -cp "$JAR" bench/LoadProfiles.java "redis://127.0.0.1:$REDIS_PORT" "$((ROUNDS * READERS))" \
  >"$RUN_DIR/load-profiles.log" 2>&1 </dev/null || { cat "$RUN_DIR/load-profiles.log"; die "loading profiles failed"; }
echo "  $(tail -n 1 "$RUN_DIR/load-profiles.log")"

TOKEN_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
READERS_TOKENS=$OUT/readers.tokens
HOT_TOKENS=$OUT/hot.tokens
WARMUP_TOKENS=$OUT/warmup.tokens
PROBE_TOKENS=$OUT/probe.tokens
ALL_TOKENS=$RUN_DIR/all.tokens
t0=$(date +%s%N)
{
  seq 0 $((ROUNDS * READERS - 1)) | sed 's/^/u/'
  seq 0 $((WARMUP_READERS - 1)) | sed 's/^/w/'
  seq 0 $((PROBE_READERS - 1)) | sed 's/^/p/'
} | OPENTIME_TOKEN_KEYS=$TOKEN_KEYS timeout 600 java -jar "$JAR" token --uids-file - --ttl 1d \
  >"$ALL_TOKENS" 2>"$RUN_DIR/token.log" || { cat "$RUN_DIR/token.log"; die "minting tokens failed"; }
(( $(wc -l <"$ALL_TOKENS") == ROUNDS * READERS + WARMUP_READERS + PROBE_READERS )) \
  || die "token minted the wrong number of tokens"
head -n "$READERS" "$ALL_TOKENS" >"$READERS_TOKENS"
# Cold round r reads u((r-1)*READERS) .. u(r*READERS-1): readers no earlier round has put in the cache.
COLD_TOKENS=()
for ((r = 1; r <= ROUNDS; r++)); do
  COLD_TOKENS+=("$OUT/cold-$r.tokens")
  sed -n "$(((r - 1) * READERS + 1)),$((r * READERS))p" "$ALL_TOKENS" >"$OUT/cold-$r.tokens"
done
head -n 1 "$ALL_TOKENS" >"$HOT_TOKENS"
sed -n "$((ROUNDS * READERS + 1)),$((ROUNDS * READERS + WARMUP_READERS))p" "$ALL_TOKENS" >"$WARMUP_TOKENS"
tail -n "$PROBE_READERS" "$ALL_TOKENS" >"$PROBE_TOKENS"
rm -f "$ALL_TOKENS"
echo "  tokens: $((ROUNDS * READERS)) readers + 1 hot (u0) + $WARMUP_READERS warm-up + $PROBE_READERS probe, minted in" \
  "$(( ($(date +%s%N) - t0) / 1000000 )) ms"
HOT_TOKEN=$(cat "$HOT_TOKENS")

free_port CEIL_PORT
CEIL_LOG=$RUN_DIR/ceiling.log
# shellcheck disable=SC2086
java $JAVA_OPTS -cp "$JAR" bench/CeilingServer.java "$CEIL_PORT" >"$CEIL_LOG" 2>&1 </dev/null &
CEIL_PID=$!
start_gateway
wait_http "$CEIL_PID" "$CEIL_PORT" ceiling "$CEIL_LOG"
echo "  ceiling: pid $CEIL_PID, http://127.0.0.1:$CEIL_PORT, log ${CEIL_LOG#"$ROOT"/}"
check_answer "$CEIL_PORT" ceiling "$HOT_TOKEN"
check_answer "$GW_PORT" gateway "$HOT_TOKEN"
same_bytes "/v1/amp/greeting?t=$HOT_TOKEN" greeting
same_bytes "/v1/open/$HOT_TOKEN.gif" pixel

echo "  warming up: ${WARMUP} of wrk on each (hot reader)"
run_wrk warmup-ceiling "$CEIL_PORT" "$HOT_TOKENS" "$WARMUP"
show_run "warm-up ceiling"
run_wrk warmup-gateway "$GW_PORT" "$HOT_TOKENS" "$WARMUP"
show_run "warm-up gateway"

# ---------------------------------------------------------------------------------------------------------------
# Scenario hot: one reader, cache hits; A/B rounds
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== hot: cache-hit greeting, one reader (u0); $ROUNDS A/B rounds of $DURATION, $CONNECTIONS connections, $THREADS wrk threads"
CEIL_RPS=()
CEIL_P99=()
GW_RPS=()
GW_P99=()
HOT_NON200=0
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "hot-ceiling-$r" "$CEIL_PORT" "$HOT_TOKENS" "$DURATION"
  show_run "round $r ceiling"
  CEIL_RPS+=("$(field rps)")
  CEIL_P99+=("$(field p99)")
  run_wrk "hot-gateway-$r" "$GW_PORT" "$HOT_TOKENS" "$DURATION"
  show_run "round $r gateway"
  GW_RPS+=("$(field rps)")
  GW_P99+=("$(field p99)")
  HOT_NON200=$(( HOT_NON200 + $(field non200) ))
done
CEIL_MED=$(median "${CEIL_RPS[@]}")
GW_MED=$(median "${GW_RPS[@]}")
GW_P99_MED=$(median "${GW_P99[@]}")
HOT_RATIO=$(ratio "$GW_MED" "$CEIL_MED")
CEIL_P99_MED=$(median "${CEIL_P99[@]}")
echo "  ceiling median: $CEIL_MED req/s, p99 $CEIL_P99_MED ms"
echo "  gateway median: $GW_MED req/s, p99 $GW_P99_MED ms"
echo "  gateway non-200 answers over all rounds: $HOT_NON200"
verdict "hot: ratio gateway/ceiling = $HOT_RATIO (target >= 0.80)" "$HOT_RATIO >= 0.80"
[[ $VERDICT == PASS ]] || why_missed hot "$HOT_TOKENS" ceiling "$CEIL_PID" "$CEIL_PORT"
echo "  hot: gateway median p99 at saturation = $GW_P99_MED ms (informative: the p99 target applies at 70% of the" \
  "maximum rate, the constant-rate runs below)"

# Paced: the same requests at a rate well below saturation, where latency measures the server, not the queue of
# a CPU shared with wrk. Offered rate ~ PACED_CONNECTIONS * 1000 / (PACE_MS + latency).
SAVED_CONNECTIONS=$CONNECTIONS
CONNECTIONS=$PACED_CONNECTIONS
export OPENTIME_DELAY_MS=$PACE_MS
run_wrk "paced-ceiling" "$CEIL_PORT" "$HOT_TOKENS" "$DURATION"
show_run "paced ceiling"
PACED_CEIL_P99=$(field p99)
run_wrk "paced-gateway" "$GW_PORT" "$HOT_TOKENS" "$DURATION"
show_run "paced gateway"
PACED_GW_P99=$(field p99)
PACED_GW_RPS=$(field rps)
PACED_SHARE=$(ratio "$PACED_GW_RPS" "$GW_MED")
unset OPENTIME_DELAY_MS
CONNECTIONS=$SAVED_CONNECTIONS
echo "  paced: $PACED_CONNECTIONS connections, ${PACE_MS} ms between requests: gateway at $PACED_GW_RPS req/s ($PACED_SHARE of its saturated median)"
echo "  paced (closed loop): gateway p99 = $PACED_GW_P99 ms at $PACED_SHARE of max; ceiling p99 $PACED_CEIL_P99 ms"

# Constant rate (open loop): the p99 target's own load, at shares of the gateway's maximum rate, offered to the
# ceiling, then to the gateway. That maximum is measured with the same generator: offered three times the
# closed-loop median, the gateway answers what it can with this generator beside it on these cores. (The wrk median
# above costs the machine less per request than the open-loop generator does: offered 0.70 of it, the no-work
# ceiling itself missed 5 ms in three of six runs in sessions 7 and 8, so the verdict measured the machine.)
OL_SUMMARY=""
# The machine's own answer to the constant-rate target: the no-work ceiling at the same share of ITS OWN open-loop
# maximum (probed the same way, right before). If a server that does nothing misses 5 ms there, the generator and
# the machine set the figure at that minute, whatever the gateway does. (Informative, no verdict: by hand in session
# 14 the ceiling's p99 at 0.70 of its own maximum was 5.5-240 ms in five rounds of five.)
share_of() { # SHARE RATE -> SHARE x RATE in whole requests per second
  awk -v s="$1" -v m="$2" 'BEGIN { printf "%d", s * m }'
}
probe_max() { # LABEL PORT RATE -> PROBED_MAX: what the server answered when offered RATE ("?": no figure)
  OPENLOOP_WARMUP=2s run_openloop "$1" "$2" "$HOT_TOKEN" "$3"
  read -r _ PROBED_MAX _ <<<"${OL_RESULTS[0]}"   # "rate achieved ...": both generators print whole answers per second
  [[ $PROBED_MAX != "?" ]] && is_true "$PROBED_MAX > 0" || PROBED_MAX="?"
}
CEIL_OWN_P99S=()
CEIL_OWN_LINES=()
ceiling_own_round() { # ROUND SHARE -> appends to CEIL_OWN_P99S and CEIL_OWN_LINES
  local max rate got p99 lag wait
  probe_max ceiling-max "$CEIL_PORT" "$(share_of 3 "$CEIL_MED")"
  max=$PROBED_MAX
  if [[ $max == "?" ]]; then
    CEIL_OWN_LINES+=("round $1 (the ceiling at $2 of its own max): its maximum was not measured (log in ${RUN_DIR#"$ROOT"/})")
    return 0
  fi
  rate=$(share_of "$2" "$max")
  OPENLOOP_WARMUP=2s run_openloop ceiling-own "$CEIL_PORT" "$HOT_TOKEN" "$rate"
  read -r _ got _ _ p99 _ _ _ lag wait <<<"${OL_RESULTS[0]}"
  [[ $p99 == "?" ]] || CEIL_OWN_P99S+=("$p99")
  CEIL_OWN_LINES+=("round $1 (the ceiling at $2 of its own max): max $max, rate $rate: ceiling p99 $p99 ms (achieved $got, lag_p99 $lag, wait_p99 $wait ms)")
}
if [[ -n ${OPENLOOP_SHARES// /} ]]; then
  for share in $OPENLOOP_SHARES; do
    is_true "$share > 0 && $share <= 1" || die "OPENLOOP_SHARES: '$share' is not a share in (0, 1]"
  done
  OL_PROBE=$(share_of 3 "$GW_MED")
  probe_max gateway-max "$GW_PORT" "$OL_PROBE"
  OL_MAX=$PROBED_MAX
  [[ $OL_MAX != "?" ]] || die "the open-loop run of the gateway at $OL_PROBE req/s gave no rate (log in ${RUN_DIR#"$ROOT"/})"
  echo "  open-loop max: offered $OL_PROBE req/s, the gateway answered $OL_MAX req/s ($(ratio "$OL_MAX" "$GW_MED") of" \
    "its closed-loop median $GW_MED)"
  OL_RATES=()
  for share in $OPENLOOP_SHARES; do
    OL_RATES+=("$(share_of "$share" "$OL_MAX")")
  done
  echo "  open loop ($OPENLOOP_GENERATOR, $OPENLOOP_CONNECTIONS connections): rates ${OL_RATES[*]} req/s = shares $OPENLOOP_SHARES of the gateway's open-loop max"
  run_openloop ceiling "$CEIL_PORT" "$HOT_TOKEN" "${OL_RATES[@]}"
  OL_CEIL=("${OL_RESULTS[@]}")
  run_openloop gateway "$GW_PORT" "$HOT_TOKEN" "${OL_RATES[@]}"
  OL_GW=("${OL_RESULTS[@]}")
  for i in "${!OL_RATES[@]}"; do
    for who in ceiling gateway; do
      if [[ $who == ceiling ]]; then line=${OL_CEIL[$i]}; else line=${OL_GW[$i]}; fi
      read -r rate got p50 p90 p99 p999 max errs lag wait <<<"$line"
      short=""
      [[ $got != "?" ]] && ! is_true "$got >= 0.97 * $rate" && short="  (the generator fell short of the rate)"
      printf '  open loop %-8s rate=%6s  achieved=%6s  p50=%7s  p90=%7s  p99=%7s  p99.9=%8s  max=%8s ms  errors=%s  lag_p99=%s  wait_p99=%s ms%s\n' \
        "$who" "$rate" "$got" "$p50" "$p90" "$p99" "$p999" "$max" "$errs" "$lag" "$wait" "$short"
    done
  done
  read -r _ _ _ _ OL_CEIL_P99 _ <<<"${OL_CEIL[-1]}"
  read -r OL_RATE OL_GOT _ _ OL_GW_P99 _ _ OL_ERRS _ <<<"${OL_GW[-1]}"
  OL_SHARE=$(ratio "$OL_RATE" "$OL_MAX")
  [[ $OL_GW_P99 != "?" ]] || die "the open-loop report of the gateway at $OL_RATE req/s was not found (log in ${RUN_DIR#"$ROOT"/})"
  # More rounds at the top share, each with its own maximum measured right before it: the p99 at one rate is as
  # exposed to the machine's drift as one throughput round is, and the verdict takes the median of the rounds, as
  # the throughput targets do. (Round lines are "open loop round N:", which bench/plot.sh does not read.)
  TOP_SHARE=${OPENLOOP_SHARES##* }
  OL_P99S=("$OL_GW_P99")
  OL_CEIL_P99S=("$OL_CEIL_P99")
  OL_ROUND_LINES=("round 1: max $OL_MAX, rate $OL_RATE: gateway p99 $OL_GW_P99 ms (errors $OL_ERRS), ceiling p99 $OL_CEIL_P99 ms")
  ROUNDS_AT_TOP=$OPENLOOP_ROUNDS
  is_true "$OL_SHARE >= 0.695" || ROUNDS_AT_TOP=1   # no verdict below the target's share: no more rounds either
  CEIL_OWN=""
  [[ $OPENLOOP_CEILING_OWN != 1 ]] || ! is_true "$OL_SHARE >= 0.695" || CEIL_OWN=1
  [[ -z $CEIL_OWN ]] || ceiling_own_round 1 "$TOP_SHARE"
  for ((r = 2; r <= ROUNDS_AT_TOP; r++)); do
    probe_max gateway-max "$GW_PORT" "$OL_PROBE"
    r_max=$PROBED_MAX
    [[ $r_max != "?" ]] || die "the open-loop run of the gateway at $OL_PROBE req/s gave no rate (log in ${RUN_DIR#"$ROOT"/})"
    r_rate=$(share_of "$TOP_SHARE" "$r_max")
    OPENLOOP_WARMUP=2s run_openloop ceiling "$CEIL_PORT" "$HOT_TOKEN" "$r_rate"
    read -r _ _ _ _ r_ceil _ <<<"${OL_RESULTS[0]}"
    OPENLOOP_WARMUP=2s run_openloop gateway "$GW_PORT" "$HOT_TOKEN" "$r_rate"
    read -r _ r_got _ _ r_p99 _ _ r_errs _ <<<"${OL_RESULTS[0]}"
    [[ $r_p99 != "?" ]] || die "the open-loop report of the gateway at $r_rate req/s was not found (log in ${RUN_DIR#"$ROOT"/})"
    OL_P99S+=("$r_p99")
    OL_CEIL_P99S+=("$r_ceil")
    OL_ERRS=$((OL_ERRS + r_errs))
    OL_ROUND_LINES+=("round $r: max $r_max, rate $r_rate: gateway p99 $r_p99 ms (achieved $r_got, errors $r_errs), ceiling p99 $r_ceil ms")
    [[ -z $CEIL_OWN ]] || ceiling_own_round "$r" "$TOP_SHARE"
  done
  for line in "${OL_ROUND_LINES[@]}" ${CEIL_OWN_LINES[@]+"${CEIL_OWN_LINES[@]}"}; do
    echo "  open loop $line"
  done
  if (( ROUNDS_AT_TOP > 1 )); then
    OL_GW_P99=$(median "${OL_P99S[@]}")
    known=()
    for v in "${OL_CEIL_P99S[@]}"; do [[ $v == "?" ]] || known+=("$v"); done
    OL_CEIL_P99="?"
    (( ${#known[@]} == 0 )) || OL_CEIL_P99=$(median "${known[@]}")
  fi
  OL_SUMMARY="gateway p99 $OL_GW_P99 ms (median of $ROUNDS_AT_TOP: ${OL_P99S[*]}) at $TOP_SHARE of its open-loop max (round 1: $OL_RATE of $OL_MAX req/s, achieved $OL_GOT), errors $OL_ERRS; ceiling p99 $OL_CEIL_P99 ms"
  if is_true "$OL_SHARE >= 0.695"; then   # the target's rate: 0.70 of max (the share is rounded down to whole req/s)
    verdict "hot, constant rate: gateway p99 = $OL_GW_P99 ms at $OL_SHARE of max, median of $ROUNDS_AT_TOP (target < 5 ms; ceiling $OL_CEIL_P99 ms)" \
      "$OL_GW_P99 < 5 && $OL_ERRS == 0"
  else
    echo "  constant rate: no verdict, the highest share offered ($OL_SHARE) is below the target's 0.70 of max"
  fi
  if (( ${#CEIL_OWN_P99S[@]} > 0 )); then
    CEIL_OWN_P99=$(median "${CEIL_OWN_P99S[@]}")
    echo "  the no-work ceiling at $TOP_SHARE of its own open-loop max: p99 $CEIL_OWN_P99 ms (median of ${#CEIL_OWN_P99S[@]}: ${CEIL_OWN_P99S[*]})"
    if is_true "$CEIL_OWN_P99 < 5"; then
      echo "  (this machine can meet the constant-rate target at this minute: a server doing no work does)"
    else
      echo "  note: a server doing no work misses 5 ms at $TOP_SHARE of its own maximum too: at this minute the generator" \
        "and the machine set the constant-rate figure, not the server"
    fi
    OL_SUMMARY="$OL_SUMMARY; the ceiling at $TOP_SHARE of its own max: p99 $CEIL_OWN_P99 ms"
  fi
  if [[ $OL_CEIL_P99 == "?" ]]; then
    echo "  note: the generator's report of the ceiling at this rate was not found (log in ${RUN_DIR#"$ROOT"/})"
  elif ! is_true "$OL_CEIL_P99 < 5"; then
    echo "  note: the no-work ceiling misses 5 ms at this rate too: the load generator, sharing the cores, sets this" \
      "figure, not the server (an open-loop generator on another machine is needed to measure it)"
  fi
else
  verdict "hot, paced: gateway p99 = $PACED_GW_P99 ms at $PACED_SHARE of max (target < 5 ms)" "$PACED_GW_P99 < 5"
fi

# Recommendations fragment (issue #3): a rendered recommendations fragment from cache against the cache-hit
# greeting JSON, same gateway, same script, alternating.
REC_RPS=()
GREET_RPS=()
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "greeting-json-$r" "$GW_PORT" "$HOT_TOKENS" "$DURATION"
  GREET_RPS+=("$(field rps)")
  export OPENTIME_PATH=/v1/fragment/recommendations
  run_wrk "recommendations-fragment-$r" "$GW_PORT" "$HOT_TOKENS" "$DURATION"
  unset OPENTIME_PATH
  show_run "round $r recs fragment"
  REC_RPS+=("$(field rps)")
done
REC_RATIO=$(ratio "$(median "${REC_RPS[@]}")" "$(median "${GREET_RPS[@]}")")
echo "  recommendations fragment: $(median "${REC_RPS[@]}") req/s vs greeting JSON $(median "${GREET_RPS[@]}") req/s"
verdict "recs fragment: ratio to cache-hit greeting JSON = $REC_RATIO (target >= 0.60)" "$REC_RATIO >= 0.60"
[[ $VERDICT == PASS ]] || why_missed fragment "$HOT_TOKENS" "greeting JSON" "$GW_PID" "$GW_PORT" /v1/fragment/recommendations

# Pixel: the open-tracking GIF against the ceiling, alternating. This gateway runs without Kafka (opens are
# answered, not recorded); the pixel with its open event recorded is measured by bench/events.sh.
PIX_RPS=()
PIX_CEIL_RPS=()
export OPENTIME_PATH=/v1/open/@OPENTIME_TOKEN@.gif
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "pixel-ceiling-$r" "$CEIL_PORT" "$HOT_TOKENS" "$DURATION"
  show_run "round $r ceiling"
  PIX_CEIL_RPS+=("$(field rps)")
  run_wrk "pixel-$r" "$GW_PORT" "$HOT_TOKENS" "$DURATION"
  show_run "round $r pixel"
  PIX_RPS+=("$(field rps)")
done
unset OPENTIME_PATH
PIX_RATIO=$(ratio "$(median "${PIX_RPS[@]}")" "$(median "${PIX_CEIL_RPS[@]}")")
echo "  pixel (events off): $(median "${PIX_RPS[@]}") req/s vs ceiling $(median "${PIX_CEIL_RPS[@]}") req/s: ratio $PIX_RATIO" \
  "(no target here; with the open recorded in Kafka: bench/events.sh)"

echo
echo "== warm: $WARM_READERS random readers, all cached after one unmeasured pass; $ROUNDS A/B rounds of $DURATION"
WARM_TOKENS=$RUN_DIR/warm.tokens
head -n "$WARM_READERS" "$READERS_TOKENS" >"$WARM_TOKENS"
run_wrk warm-fill "$GW_PORT" "$WARM_TOKENS" "$WARMUP"
show_run "warm-up (fills cache)"
# The ceiling driven with the same token file: wrk's cost of picking a random token is then charged to both.
WARM_RPSS=()
WARM_CEIL_RPSS=()
WARM_P99S=()
for ((r = 1; r <= ROUNDS; r++)); do
  ab_pair warm "$WARM_TOKENS" "$r"
  WARM_CEIL_RPSS+=("$PAIR_CEIL_RPS")
  WARM_RPSS+=("$(field rps)")
  WARM_P99S+=("$(field p99)")
done
WARM_RPS=$(median "${WARM_RPSS[@]}")
WARM_P99=$(median "${WARM_P99S[@]}")
WARM_RATIO=$(ratio "$WARM_RPS" "$(median "${WARM_CEIL_RPSS[@]}")")
echo "  warm: gateway median $WARM_RPS req/s (p99 $WARM_P99 ms), ceiling median $(median "${WARM_CEIL_RPSS[@]}") req/s"
verdict "warm: ratio to the ceiling on the same tokens = $WARM_RATIO (target >= 0.80)" "$WARM_RATIO >= 0.80"
[[ $VERDICT == PASS ]] || why_missed warm "$WARM_TOKENS" ceiling "$CEIL_PID" "$CEIL_PORT"

HOT_RSS=$(rss_of "$GW_PID")
CEIL_RSS=$(rss_of "$CEIL_PID")
echo "  RSS after the hot scenario: gateway #$GW_N $HOT_RSS, ceiling $CEIL_RSS"

# ---------------------------------------------------------------------------------------------------------------
# Scenario cold: many readers, Redis healthy. The same gateway as above: its JIT is warm, its cache holds the hot
# reader and the warm scenario's readers (1% of a million), so nearly every answer is a miss. (A restarted gateway
# spends its first minute compiling: on 2 cores that took a quarter of its CPU and measured the JIT, not the path.)
# A/B rounds like the others, each on READERS readers of its own: round r reads no reader an earlier round read, so
# every round is as cold as the first. Each round caches about a third of a million profiles; with the default
# cache.max-entries (1,000,000) the last round ends with the first evictions.
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== cold: $READERS random readers per round, Redis healthy, the gateway above ($WARM_READERS of them cached);" \
  "$ROUNDS A/B rounds of $DURATION"
if (( WARM_READERS * 10 > READERS )); then
  echo "  note: READERS=$READERS is not much more than the $WARM_READERS cached readers: many answers will be cache hits"
fi
run_wrk "warmup-cold-$GW_N" "$GW_PORT" "$WARMUP_TOKENS" "$WARMUP"
show_run "warm-up (w* readers)"
COLD_RPSS=()
COLD_CEIL_RPSS=()
COLD_P99S=()
COLD_NON200=0
COLD_DEFAULT=0
for ((r = 1; r <= ROUNDS; r++)); do
  ab_pair cold "${COLD_TOKENS[$((r - 1))]}" "$r"
  COLD_CEIL_RPSS+=("$PAIR_CEIL_RPS")
  COLD_RPSS+=("$(field rps)")
  COLD_P99S+=("$(field p99)")
  COLD_NON200=$((COLD_NON200 + $(field non200)))
  COLD_DEFAULT=$((COLD_DEFAULT + $(field src_default)))
done
COLD_RPS=$(median "${COLD_RPSS[@]}")
COLD_P99=$(median "${COLD_P99S[@]}")
COLD_RATIO=$(ratio "$COLD_RPS" "$(median "${COLD_CEIL_RPSS[@]}")")
echo "  cold: gateway median $COLD_RPS req/s (p99 $COLD_P99 ms), ceiling median $(median "${COLD_CEIL_RPSS[@]}") req/s" \
  "on the same tokens; non-200 $COLD_NON200"
if (( COLD_DEFAULT > 0 )); then
  echo "  note: $COLD_DEFAULT answers were defaults although Redis was healthy (deadline, breaker or connection)"
fi
# (Its profiled run reads the last round's readers again: about a third of them cached by that round, as the
# sources tally shows; the rest are misses.)
verdict "cold: ratio to the ceiling on random tokens = $COLD_RATIO (target >= 0.50)" "$COLD_RATIO >= 0.50"
[[ $VERDICT == PASS ]] || why_missed cold "${COLD_TOKENS[$((ROUNDS - 1))]}" ceiling "$CEIL_PID" "$CEIL_PORT"
COLD_RSS=$(rss_of "$GW_PID")
echo "  RSS after the cold scenario: gateway #$GW_N $COLD_RSS"

# ---------------------------------------------------------------------------------------------------------------
# Scenario stalled: many readers, cold cache, Redis SIGSTOPped STALL_AFTER s into the run
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== stalled: $READERS random readers, fresh gateway (cold cache), Redis SIGSTOPped ${STALL_AFTER}s into a $DURATION run"
stop_gateway
start_gateway
run_wrk "warmup-gateway-$GW_N" "$GW_PORT" "$WARMUP_TOKENS" "$WARMUP"
show_run "warm-up (w* readers)"
run_wrk stalled "$GW_PORT" "$READERS_TOKENS" "$DURATION" stall
show_run "stalled gateway"
ST_NON200=$(field non200)
ST_ERRS=$(( $(field connect_errors) + $(field read_errors) + $(field write_errors) + $(field timeouts) ))
ST_P99=$(field p99)
ST_RPS=$(field rps)
[[ $(field statuses) == - ]] || echo "  non-200 statuses: $(field statuses)"
# After SIGCONT: how long until a reader never seen before is read from Redis again
recovered=""
t0=$(date +%s%N)
while read -r probe; do
  src=$(curl -s -o /dev/null -D - --max-time 2 -H "AMP-Email-Sender: $SENDER" \
    "http://127.0.0.1:$GW_PORT/v1/amp/greeting?t=$probe" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-opentime-source" { print $2 }' || true)
  if [[ $src == redis ]]; then
    recovered=$(( ($(date +%s%N) - t0) / 1000000 ))
    break
  fi
  sleep 0.5
done <"$PROBE_TOKENS"
if [[ -n $recovered ]]; then
  echo "  after SIGCONT, a new reader was read from Redis again within $recovered ms"
else
  echo "  after SIGCONT, the gateway still did not read new readers from Redis after $PROBE_READERS probes (~$((PROBE_READERS / 2)) s)"
fi
verdict "stalled: non-200 answers = $ST_NON200, socket errors/timeouts = $ST_ERRS (target 0)" "$ST_NON200 == 0 && $ST_ERRS == 0"
verdict "stalled: p99 = $ST_P99 ms (target <= deadline $DEADLINE_MS + 10 = $STALL_P99_MS ms)" "$ST_P99 <= $STALL_P99_MS"

# The same stall at a constant arrival rate, STALL_OPEN_SHARE of the cold median above, by the C open-loop generator
# (random readers, as wrk's): informative, no verdict. The verdict's run is a closed loop at saturation, whose p99
# also holds every queueing delay of a busy machine; below the maximum, with latency counted from each request's due
# time, the p99 shows what the stall itself adds. Same gateway (JIT warm from the run above; a few percent of
# these readers cached by it), Redis SIGSTOPped STALL_AFTER s into the measured part and resumed at its end.
if [[ -n $STALL_OPEN_SHARE ]] && ! awk -v s="$STALL_OPEN_SHARE" 'BEGIN { exit !(s ~ /^[0-9.]+$/ && s > 0 && s <= 1) }'; then
  echo "  stalled, open loop: skipped, STALL_OPEN_SHARE must be a share of the cold median in (0, 1], not '$STALL_OPEN_SHARE'"
elif [[ -n $STALL_OPEN_SHARE && $OPENLOOP_GENERATOR == openloop ]]; then
  [[ -x $OPENLOOP_BIN ]] || build_openloop
  ST_OL_RATE=$(awk -v r="$COLD_RPS" -v s="$STALL_OPEN_SHARE" 'BEGIN { printf "%d", r * s }')
  ST_OL_LOG=$RUN_DIR/openloop-stalled.txt
  ST_OL_SECS=$(to_seconds "$DURATION")
  ST_OL_WARM=2 # seconds at that rate before the measured part (the generator's connections, the gateway's misses)
  busy_warning
  timeout --kill-after=5 $((ST_OL_WARM + ST_OL_SECS + 60)) "$OPENLOOP_BIN" -p "$GW_PORT" -r "$ST_OL_RATE" \
    -d "$ST_OL_SECS" -w "$ST_OL_WARM" \
    -c "$OPENLOOP_CONNECTIONS" -f "$READERS_TOKENS" -H "AMP-Email-Sender: $SENDER" "/v1/amp/greeting?t=@TOKEN@" \
    >"$ST_OL_LOG" 2>&1 </dev/null &
  WRK_PID=$!
  sleep "$(awk -v w="$ST_OL_WARM" -v s="$STALL_AFTER" 'BEGIN { print 0.2 + w + s }')" # it connects for 0.2 s first
  stop_redis_during "the open-loop run at $ST_OL_RATE/s"
  wait_load
  if (( LOAD_RC == 0 )); then
    read -r _ ST_OL_P50 _ ST_OL_P99 ST_OL_P999 ST_OL_MAX ST_OL_ERRS ST_OL_LAG _ < <(openloop_c_result "$ST_OL_RATE" "$ST_OL_LOG")
    echo "  stalled, open loop at $ST_OL_RATE/s ($STALL_OPEN_SHARE of the cold median): p50 $ST_OL_P50, p99 $ST_OL_P99," \
      "p99.9 $ST_OL_P999, max $ST_OL_MAX ms, errors $ST_OL_ERRS, generator lag_p99 $ST_OL_LAG ms (informative, no verdict)"
  else
    echo "  stalled, open loop: the generator failed (exit $LOAD_RC; log ${ST_OL_LOG#"$ROOT"/}); no figure"
  fi
elif [[ -n $STALL_OPEN_SHARE ]]; then
  echo "  stalled, open loop: skipped (it needs OPENLOOP_GENERATOR=openloop, the C generator)"
fi
ST_RSS=$(rss_of "$GW_PID")
echo "  RSS after the stalled scenario: gateway #$GW_N $ST_RSS"

# ---------------------------------------------------------------------------------------------------------------
# Gateway logs and summary
# ---------------------------------------------------------------------------------------------------------------
if (( MEMORY_READERS > 0 )); then
  echo
  echo "== memory: RSS of a fresh gateway once it has cached $MEMORY_READERS profiles (every reader read once, in order)"
  stop_gateway
  MEM_TOKENS=$RUN_DIR/memory.tokens
  if (( MEMORY_READERS <= READERS )); then # those profiles are loaded and their tokens minted already
    head -n "$MEMORY_READERS" "$READERS_TOKENS" >"$MEM_TOKENS"
  else
    # shellcheck disable=SC2086
    timeout 600 java $JAVA_OPTS -cp "$JAR" bench/LoadProfiles.java "redis://127.0.0.1:$REDIS_PORT" "$MEMORY_READERS" \
      >"$RUN_DIR/load-profiles-memory.log" 2>&1 </dev/null || { cat "$RUN_DIR/load-profiles-memory.log"; die "loading profiles failed"; }
    echo "  $(tail -n 1 "$RUN_DIR/load-profiles-memory.log")"
    seq 0 $((MEMORY_READERS - 1)) | sed 's/^/u/' | OPENTIME_TOKEN_KEYS=$TOKEN_KEYS timeout 300 java -jar "$JAR" token \
      --uids-file - --ttl 1d >"$MEM_TOKENS" 2>"$RUN_DIR/token-memory.log" || { cat "$RUN_DIR/token-memory.log"; die "minting failed"; }
  fi
  SAVED_JAVA_OPTS=$JAVA_OPTS
  SAVED_GATEWAY_JAVA_OPTS=$GATEWAY_JAVA_OPTS
  JAVA_OPTS="$JAVA_OPTS $MEMORY_JAVA_OPTS"
  MEM_GW_OPTS=()   # this scenario sets the heap itself: GATEWAY_JAVA_OPTS without its -Xms/-Xmx
  for opt in $GATEWAY_JAVA_OPTS; do
    [[ $opt == -Xms* || $opt == -Xmx* ]] || MEM_GW_OPTS+=("$opt")
  done
  GATEWAY_JAVA_OPTS="${MEM_GW_OPTS[*]}"
  # shellcheck disable=SC2086 # word splitting trims the spaces
  echo "  gateway JVM options for this scenario: $(echo $JAVA_OPTS $GATEWAY_JAVA_OPTS)"
  start_gateway
  JAVA_OPTS=$SAVED_JAVA_OPTS
  GATEWAY_JAVA_OPTS=$SAVED_GATEWAY_JAVA_OPTS
  MEM_RSS_START=$(rss_of "$GW_PID")
  MEM_LIVE_START=$(live_heap "$GW_PID")
  # The walk fills the cache at a moderate, paced rate: this scenario measures memory, not speed. At full speed
  # under this heap, G1's pauses outgrow the read deadline and the reads they hold up fail (and are not cached).
  # Long enough for every reader at the offered rate (MEMORY_CONNECTIONS x 1000 / (1 ms + latency), counted at 300
  # per connection and second), with room for a second pass that re-reads any reader whose first read failed; each
  # thread walks its share in order.
  export OPENTIME_SEQUENTIAL=$THREADS
  export OPENTIME_DELAY_MS=1
  SAVED_CONNECTIONS=$CONNECTIONS
  CONNECTIONS=$MEMORY_CONNECTIONS
  MEM_S=$(awk -v n="$MEMORY_READERS" -v c="$MEMORY_CONNECTIONS" 'BEGIN { s = 1.3 * n / (c * 300); print (s < 20 ? 20 : int(s) + 1) }')
  run_wrk memory "$GW_PORT" "$MEM_TOKENS" "${MEM_S}s"
  CONNECTIONS=$SAVED_CONNECTIONS
  unset OPENTIME_SEQUENTIAL OPENTIME_DELAY_MS
  show_run "memory (all readers)"
  MEM_RSS_LOAD=$(rss_of "$GW_PID")
  MEM_CACHED=$(curl -s "http://127.0.0.1:$GW_MGMT_PORT/metrics" | awk '/^cache_size\{.*cache="profiles"/ { printf "%.0f", $2 }')
  sleep 5
  MEM_RSS=$(rss_of "$GW_PID")
  echo "  cached profiles: ${MEM_CACHED:-?}; gateway RSS: $MEM_RSS_START at start, $MEM_RSS_LOAD right after the load, $MEM_RSS 5 s later"
  # What a cached profile costs the heap (its entry, key, profile and values): live bytes after the walk less those
  # before it, per cached profile. Measured after the RSS figure, as the histogram forces a full collection.
  MEM_LIVE=$(live_heap "$GW_PID")
  if [[ $MEM_LIVE != "?" && $MEM_LIVE_START != "?" && ${MEM_CACHED:-0} -gt 0 ]]; then
    echo "  live heap: $(( MEM_LIVE_START / 1048576 )) MiB at start, $(( MEM_LIVE / 1048576 )) MiB with the profiles cached:" \
      "$(( (MEM_LIVE - MEM_LIVE_START) / MEM_CACHED )) bytes per cached profile"
  else
    echo "  live heap: not measured (jcmd's class histogram was not available)"
  fi
  verdict "memory: RSS with ${MEM_CACHED:-?} cached profiles = $MEM_RSS (target < 1024 MiB)" "${MEM_RSS% MiB} < 1024 && ${MEM_CACHED:-0} >= 0.99 * $MEMORY_READERS"
  rm -f "$MEM_TOKENS"
fi

echo
echo "== gateway logs (WARN/ERROR lines)"
for log in "$RUN_DIR"/gateway-*.log; do
  # text lines (" WARN ") or the JSON lines the gateway writes in production ("level":"WARN")
  pattern=' (WARN|ERROR) |"level":"(WARN|ERROR)"'
  n=$(grep -cE "$pattern" "$log" || true)
  echo "  ${log#"$ROOT"/}: $n"
  grep -E "$pattern" "$log" | head -n 5 | sed 's/^/    /' || true
done

echo
echo "== summary ($TS)"
echo "  hot:     ceiling $CEIL_MED req/s (p99 $CEIL_P99_MED ms), gateway $GW_MED req/s (p99 $GW_P99_MED ms), medians of $ROUNDS; ratio $HOT_RATIO"
echo "  paced:   gateway $PACED_GW_RPS req/s ($PACED_SHARE of max), p99 $PACED_GW_P99 ms; ceiling p99 $PACED_CEIL_P99 ms"
[[ -z $OL_SUMMARY ]] || echo "  open:    $OL_SUMMARY"
echo "  stalled: $ST_RPS req/s, p99 $ST_P99 ms, non-200 $ST_NON200, socket errors/timeouts $ST_ERRS"
echo "  warm:    $WARM_RPS req/s, p99 $WARM_P99 ms, ratio to ceiling $WARM_RATIO (medians of $ROUNDS)"
echo "  cold:    $COLD_RPS req/s, p99 $COLD_P99 ms, ratio to ceiling $COLD_RATIO (medians of $ROUNDS; target >= 0.50)"
echo "  gateway RSS: $HOT_RSS after hot, $ST_RSS after stalled, $COLD_RSS after cold${MEM_RSS:+, $MEM_RSS with ${MEM_CACHED:-?} profiles cached}"
for line in "${SUMMARY[@]}"; do
  echo "  $line"
done
echo "  targets: $PASSED passed, $FAILED failed"
if (( BUSY_WARNINGS > 0 || START_BUSY > 10 )); then
  echo "  WARNING: the machine was busy before the benchmark or before $BUSY_WARNINGS run(s): numbers are skewed, run again on an idle machine"
fi
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  full output: ${RESULTS#"$ROOT"/}"
exit
}
