#!/usr/bin/env bash
# Opentime Redis benchmark: Redis's own ceiling for the gateway's two Redis operations (the profile read, HMGET of the
# 11 schema fields, and the profile update, EVALSHA of events/apply.lua), on one redis-server on loopback: reads only,
# updates only, then a read/update mix. Usage (from the repo root): bash bench/redis.sh     See bench/README.md.
set -euo pipefail

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
if [[ -n ${OPENTIME_JAR:-} ]]; then
  JAR=$(cd "$START_DIR" && realpath -m -- "$OPENTIME_JAR")
else
  JAR=$ROOT/target/opentime-gateway.jar
fi

die() { echo "ERROR: $*" >&2; exit 1; }

DURATION=${DURATION%s}
WARMUP=${WARMUP%s}
for knob in DURATION WARMUP CONNECTIONS IN_FLIGHT PROFILES; do
  [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer (got '${!knob}')"
done
[[ $READ_SHARE =~ ^[0-9]+$ ]] && (( READ_SHARE > 0 && READ_SHARE < 100 )) || die "READ_SHARE must be 1..99"
[[ $IDLE_WAIT =~ ^[0-9]+$ ]] || die "IDLE_WAIT must be a whole number of seconds"
[[ $EVENTS == attribute || $EVENTS == mix ]] || die "EVENTS must be attribute or mix"
[[ -f $JAR ]] || die "no gateway jar at $JAR; build it first: mvn -B -ntp -DskipTests package"
for tool in java awk; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# ---------------------------------------------------------------------------------------------------------------
# Locks: wait while a load test or another benchmark runs (a stale lock, whose pid is gone, is ignored); then hold
# the benchmark lock
# ---------------------------------------------------------------------------------------------------------------
LOAD_LOCK=/tmp/opentime-load-tests.lock
BENCH_LOCK=/tmp/opentime-bench.lock
lock_held() { # FILE -> 0 if it exists and its first field is a live pid (or it names none)
  [[ -e $1 ]] || return 1
  local pid
  pid=$(cut -d' ' -f1 "$1" 2>/dev/null || true)
  [[ ! $pid =~ ^[0-9]+$ ]] || kill -0 "$pid" 2>/dev/null
}
while lock_held "$LOAD_LOCK" || lock_held "$BENCH_LOCK"; do
  echo "$(date +%T) waiting: $LOAD_LOCK or $BENCH_LOCK is held (a load test or benchmark is running)..."
  sleep 10
done
echo "$$ $(date -Is) bench/redis.sh" >"$BENCH_LOCK"

OUT=$ROOT/bench/out
TS=$(date +%Y%m%d-%H%M%S)
RUN_DIR=$OUT/redis-$TS
mkdir -p "$RUN_DIR"
RESULTS=$OUT/redis-results-$TS.txt
exec > >(tee -a "$RESULTS") 2>&1
TEE_PID=$!

# ---------------------------------------------------------------------------------------------------------------
# Processes: Redis is stopped on exit, Ctrl-C or error
# ---------------------------------------------------------------------------------------------------------------
REDIS_PID=""
COPY=""

stop_pid() { # PID NAME: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1 name=$2 i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  $name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  if [[ -n $REDIS_PID ]]; then kill -CONT "$REDIS_PID" 2>/dev/null; fi
  stop_pid "$REDIS_PID" redis; REDIS_PID=""
  [[ -n $COPY ]] && rm -f "$COPY"
  if [[ $(cut -d' ' -f1 "$BENCH_LOCK" 2>/dev/null) == "$$" ]]; then rm -f "$BENCH_LOCK"; fi
  if (( rc != 0 )); then
    echo "bench/redis.sh stopped (exit $rc); logs in ${RUN_DIR#"$ROOT"/}/, output in ${RESULTS#"$ROOT"/}"
  fi
  exec 1>&- 2>&-
  wait "$TEE_PID" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT
trap 'echo "terminated"; exit 143' TERM HUP

# ---------------------------------------------------------------------------------------------------------------
# Helpers (as in bench/run.sh)
# ---------------------------------------------------------------------------------------------------------------
PICKED_PORTS=" "
free_port() { # a loopback TCP port nobody uses, below the ephemeral range
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$(( 20000 + RANDOM % 12000 ))
    [[ $PICKED_PORTS == *" $p "* ]] && continue
    if command -v ss >/dev/null; then
      [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] || continue
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
    PICKED_PORTS+="$p "
    echo "$p"
    return 0
  done
  die "no free loopback port found"
}

redis_ping() { # PORT -> 0 if Redis answers PING with +PONG
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 1 line <&3 || exit 1
    [[ $line == +PONG* ]]
  ) 2>/dev/null
}

listener_is() { # PORT PID -> 0 unless ss shows the port held (also) by some other process
  command -v ss >/dev/null || return 0
  local pids
  pids=$(ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u || true)
  [[ -z $pids || $pids == "pid=$2" ]]
}

# ---------------------------------------------------------------------------------------------------------------
# Jar copy (a rebuild during the run must not pull classes from under it) and redis-server
# ---------------------------------------------------------------------------------------------------------------
COPY=$OUT/opentime-gateway-redis-$TS.jar
cp "$JAR" "$COPY"
if command -v redis-server >/dev/null; then
  REDIS_BIN=$(command -v redis-server)
else
  REDIS_BIN=$OUT/redis-server
  if [[ ! -x $REDIS_BIN || $JAR -nt $REDIS_BIN ]]; then
    command -v unzip >/dev/null || die "unzip is required to extract redis-server from the jar (or put redis-server on PATH)"
    unzip -p "$COPY" redis-server-6.2.6-v5-linux-amd64 >"$REDIS_BIN.tmp.$$" || die "no redis-server-6.2.6-v5-linux-amd64 in $JAR"
    chmod +x "$REDIS_BIN.tmp.$$"
    mv "$REDIS_BIN.tmp.$$" "$REDIS_BIN"
  fi
fi

CORES=$(nproc)
echo "== Opentime Redis benchmark $TS"
echo "machine: $CORES cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
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
REDIS_PORT=$(free_port)
mkdir -p "$RUN_DIR/redis"
"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --save "" --appendonly no \
  --dir "$RUN_DIR/redis" --daemonize no >"$RUN_DIR/redis.log" 2>&1 </dev/null &
REDIS_PID=$!
for ((i = 0; i < 100; i++)); do
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$RUN_DIR/redis.log"; die "redis-server exited"; }
  redis_ping "$REDIS_PORT" && break
  sleep 0.1
done
redis_ping "$REDIS_PORT" || die "redis-server did not answer PING on port $REDIS_PORT"
listener_is "$REDIS_PORT" "$REDIS_PID" || die "port $REDIS_PORT is held by another process, not by our redis-server"
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
