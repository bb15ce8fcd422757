# shellcheck shell=bash
# bench/lib.sh: the helpers bench/run.sh, bench/redis.sh, bench/events.sh and load-tests/run.sh share. Sourced, never
# executed:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"              # from bench/
#   source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"     # from load-tests/
#
# Callers set `set -euo pipefail` themselves: this file changes no shell option (only on_exit, the EXIT trap that
# exit_traps installs when a caller asks for it, turns off `set -e` while the script ends), sets no trap and starts
# nothing when sourced, and only defines the functions below and the variables PICKED_PORTS, BENCH_LOCK, LOAD_LOCK,
# REDIS_JAR_ENTRY, TEE_PID, PAUSED_PID, EXIT_FUNCTION, AP_VERSION, AP_LIB and AP_WHY. Functions whose result the
# caller keeps set a global variable (named below) instead of printing it, so that a `die` inside them ends the
# script and not just a $(...) subshell, and so that their state (the ports already picked, the pid of a process
# started in the background) stays in the caller's shell.
#
#   die MESSAGE...                    "ERROR: MESSAGE..." on stderr, exit 1
#   require_tools TOOL...             die unless every TOOL is on PATH
#   resolve_jar START_DIR ROOT        JAR= $OPENTIME_JAR (a relative path is taken from START_DIR), otherwise
#                                     ROOT/target/opentime-gateway.jar (not checked: see require_jar)
#   require_jar                       die, saying how to build it, unless $JAR is a file
#   exit_traps FUNCTION               on exit, error, Ctrl-C ("interrupted", exit 130), SIGTERM or SIGHUP ("terminated",
#                                     exit 143): traps off, `set +e`, FUNCTION RC, then exit RC. FUNCTION stops what
#                                     the script started; the exit code stays the script's.
#   ensure_wrk LOG                    installs wrk with apt-get (output to LOG) when missing and root; dies otherwise
#   machine_summary                   prints "<n> cores, <cpu model>, <x> GiB RAM, Linux <release>"
#   tee_output FILE / close_output    stdout and stderr also appended to FILE (TEE_PID= the tee); close_output, in an
#                                     EXIT trap, closes them and waits for tee to write everything
#   stop_pid PID NAME [GRACE]         SIGTERM, up to GRACE seconds (default 10), then SIGKILL; reaps it. PID may be ""
#   pause_pid PID / resume_paused     SIGSTOP PID (PAUSED_PID= it) / SIGCONT the paused one, if any (call
#                                     resume_paused before stop_pid in an exit trap: a stopped process ignores SIGTERM)
#   free_port VAR                     VAR= a loopback TCP port nobody uses, in 20000..31999 (below the ephemeral range,
#                                     so no client socket can take it), never one this script picked before
#   listener_is PORT PID              0 unless `ss` shows PORT listened on (also) by a process other than PID
#   http_up PORT                      0 if something answers HTTP on 127.0.0.1:PORT (1 s at most)
#   wait_http PID PORT NAME LOG       until PORT answers HTTP (60 s at most); dies if PID exits first or another
#                                     process holds the port (log paths are shown relative to $ROOT)
#   redis_ping PORT                   0 if a Redis on 127.0.0.1:PORT answers PING with +PONG (1 s at most)
#   redis_server_bin JAR DIR          REDIS_BIN= redis-server from PATH, otherwise the one bundled in JAR, extracted
#                                     (again when JAR is newer) to DIR/redis-server
#   start_redis DIR [ARG...]          REDIS_PORT=, REDIS_PID=: $REDIS_BIN on 127.0.0.1 and a free port, no persistence,
#                                     data in DIR/redis, log DIR/redis.log, extra redis-server ARGs; waits (10 s at
#                                     most) until it answers PING on a port held by it alone. The caller stops it.
#   lock_held FILE                    0 if FILE exists and its first field is a live pid (or is not a pid at all)
#                                     whose start time is the one recorded after it; a stale lock, whose process is
#                                     gone or whose pid another process now has, is not held
#   proc_start PID                    the start time of PID in clock ticks since boot ("" if it is gone)
#   acquire_lock FILE LABEL INTERVAL [OTHER...]
#                                     waits, saying so every INTERVAL seconds, while FILE or one of the OTHER lock
#                                     files is held, then creates FILE atomically with "<pid> <start ticks> <ISO time> <LABEL>"
#   release_lock FILE                 removes FILE if this script ($$) holds it (safe to call when it does not)
#   pid_ticks PID...                  the user + system CPU ticks of these processes, summed ("" or gone: 0)
#   cpu_ticks [N...]                  "busy idle N...": the machine's busy and idle ticks since boot, then the Ns
#                                     (the first one: the ticks of the processes the caller counts as its own)
#   cpu_share A B                     two cpu_ticks samples -> "busy% others%" then the % of each further field, all
#                                     as shares of the whole machine (others = busy minus the caller's own)
#   cpu_busy SECONDS COMMAND...       cpu_share of COMMAND's cpu_ticks sample now and SECONDS later
#   gateway_jvm_defaults              prints the Dockerfile's garbage-collector options for the gateway
#   async_profiler OUT LOG            AP_LIB= async-profiler's library (AP_VERSION, linux-x64), fetched once from Maven
#                                     Central (tools.profiler:async-profiler) into OUT/async-profiler-AP_VERSION, output
#                                     to LOG; returns 1 (AP_LIB="", AP_WHY= the reason) where it cannot: no Linux x86-64,
#                                     no jcmd (or, to fetch it, mvn and jar), no network. The caller decides.
#   profiler PID COMMAND LOG          async-profiler's COMMAND (start,... / dump,... / stop,...) in that JVM, by jcmd;
#                                     output appended to LOG; returns jcmd's status
#
# Lock files: BENCH_LOCK (/tmp/opentime-bench.lock) is held by the benchmarks in bench/, LOAD_LOCK
# (/tmp/opentime-load-tests.lock) by load-tests/run.sh; both can be moved with the environment variables of these names.

BENCH_LOCK=${BENCH_LOCK:-/tmp/opentime-bench.lock}
LOAD_LOCK=${LOAD_LOCK:-/tmp/opentime-load-tests.lock}
REDIS_JAR_ENTRY=redis-server-6.2.6-v5-linux-amd64   # the binary embedded-redis bundles in the gateway jar
PICKED_PORTS=" "

die() { echo "ERROR: $*" >&2; exit 1; }

require_tools() { # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
}

# shellcheck disable=SC2034  # JAR is for the caller
resolve_jar() { # START_DIR ROOT -> JAR
  if [[ -n ${OPENTIME_JAR:-} ]]; then
    JAR=$(cd "$1" && realpath -m -- "$OPENTIME_JAR")
  else
    JAR=$2/target/opentime-gateway.jar
  fi
}

require_jar() {
  [[ -f $JAR ]] || die "no gateway jar at $JAR; build it first: mvn -B -ntp -DskipTests package"
}

EXIT_FUNCTION=""
exit_traps() { # FUNCTION
  EXIT_FUNCTION=$1
  trap on_exit EXIT
  trap 'echo; echo "interrupted"; exit 130' INT
  trap 'echo "terminated"; exit 143' TERM HUP
}
on_exit() { # (the EXIT trap of exit_traps)
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e   # the script is ending: every step of its clean-up must run
  "$EXIT_FUNCTION" "$rc"
  exit "$rc"
}

ensure_wrk() { # LOG: apt-get's output
  command -v wrk >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "wrk is not installed and this is not root, so it cannot be installed here: run 'sudo apt-get install -y wrk' first"
  fi
  command -v apt-get >/dev/null || die "wrk is not installed and there is no apt-get: install wrk (https://github.com/wg/wrk) first"
  echo "installing wrk (apt-get install -y wrk) ..."
  if ! DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q wrk >"$1" 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >>"$1" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q wrk >>"$1" 2>&1 \
      || { tail -n 20 "$1"; die "could not install wrk"; }
  fi
}

machine_summary() {
  echo "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
}

TEE_PID=""
tee_output() { # FILE
  exec > >(tee -a "$1") 2>&1
  TEE_PID=$!
}
close_output() {
  exec 1>&- 2>&-
  if [[ -n $TEE_PID ]]; then wait "$TEE_PID" 2>/dev/null || true; fi
}

# ---------------------------------------------------------------------------------------------------------------
# Processes and ports
# ---------------------------------------------------------------------------------------------------------------
stop_pid() { # PID NAME [GRACE]: SIGTERM, up to GRACE (10) s, then SIGKILL
  local pid=$1 name=$2 grace=${3:-10} i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  $name (pid $pid) ignored SIGTERM for $grace s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

PAUSED_PID=""
pause_pid() { # PID: SIGSTOP; remembered in PAUSED_PID for resume_paused
  kill -STOP "$1"
  PAUSED_PID=$1
}

resume_paused() { # SIGCONT to the process pause_pid stopped, if any
  [[ -z $PAUSED_PID ]] || kill -CONT "$PAUSED_PID" 2>/dev/null || true
  PAUSED_PID=""
}

free_port() { # VAR: a loopback TCP port nobody uses, below the ephemeral range so no client socket can take it
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$(( 20000 + RANDOM % 12000 ))
    [[ $PICKED_PORTS == *" $p "* ]] && continue
    if command -v ss >/dev/null; then
      [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] || continue
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
    PICKED_PORTS+="$p "   # kept in this shell: hence a variable to set, not $(free_port)
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free loopback port found"
}

listener_is() { # PORT PID -> 0 unless ss shows the port held (also) by some other process
  command -v ss >/dev/null || return 0
  local pids
  pids=$(ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u || true)
  [[ -z $pids || $pids == "pid=$2" ]]
}

# ---------------------------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------------------------
redis_ping() { # PORT -> 0 if Redis answers PING with +PONG
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 1 line <&3 || exit 1
    [[ $line == +PONG* ]]
  ) 2>/dev/null
}

redis_server_bin() { # JAR DIR -> REDIS_BIN
  local jar=$1 dir=$2 tmp
  if command -v redis-server >/dev/null; then
    REDIS_BIN=$(command -v redis-server)
    return 0
  fi
  REDIS_BIN=$dir/redis-server
  if [[ ! -x $REDIS_BIN || $jar -nt $REDIS_BIN ]]; then
    command -v unzip >/dev/null || die "unzip is required to extract redis-server from the jar (or put redis-server on PATH)"
    mkdir -p "$dir"
    tmp=$REDIS_BIN.tmp.$$   # a file of our own, renamed into place: a concurrent run never sees half a binary
    if ! unzip -p "$jar" "$REDIS_JAR_ENTRY" >"$tmp" || [[ ! -s $tmp ]]; then
      rm -f "$tmp"
      die "no $REDIS_JAR_ENTRY in $jar"
    fi
    chmod +x "$tmp"
    mv -f "$tmp" "$REDIS_BIN"
  fi
}

start_redis() { # DIR [REDIS-SERVER ARG...] -> REDIS_PORT, REDIS_PID
  local dir=$1 i
  shift
  free_port REDIS_PORT
  mkdir -p "$dir/redis"
  "$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --save "" --appendonly no "$@" \
    --dir "$dir/redis" --daemonize no >"$dir/redis.log" 2>&1 </dev/null &
  REDIS_PID=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$dir/redis.log"; die "redis-server exited"; }
    redis_ping "$REDIS_PORT" && break
    sleep 0.1
  done
  redis_ping "$REDIS_PORT" || die "redis-server did not answer PING on port $REDIS_PORT"
  listener_is "$REDIS_PORT" "$REDIS_PID" || die "port $REDIS_PORT is held by another process, not by our redis-server"
}

# ---------------------------------------------------------------------------------------------------------------
# Locks: "<pid> <start ticks> <ISO time> <label>" in one line; a lock whose process is gone (or whose pid another process now has) is stale and ignored
# ---------------------------------------------------------------------------------------------------------------
proc_start() { # PID -> its start time (clock ticks since boot, /proc/PID/stat field 22), or nothing if it is gone
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }                      # after "pid (comm) ": comm may hold spaces
  cut -d' ' -f20 <<<"$stat"
}

lock_held() { # FILE -> 0 if it exists and names a live process (pid, and its start time when recorded; or no pid)
  [[ -e $1 ]] || return 1
  local pid start
  read -r pid start _ <"$1" 2>/dev/null || true
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 1
  # a lock from before start times were recorded has the date here; else a pid reused by another process is not held
  [[ ! $start =~ ^[0-9]+$ ]] || [[ $(proc_start "$pid") == "$start" ]]
}

acquire_lock() { # FILE LABEL INTERVAL [OTHER...]
  local file=$1 label=$2 interval=$3 f busy tries=0
  shift 3
  while :; do
    busy=""
    for f in "$@" "$file"; do
      # a lock naming this very process is a leftover of an earlier process with our pid: not held
      if lock_held "$f" && [[ $(cut -d' ' -f1 "$f" 2>/dev/null || true) != "$$" ]]; then
        busy=$f
        break
      fi
    done
    if [[ -z $busy ]]; then
      [[ -e $file ]] && rm -f "$file" 2>/dev/null   # stale
      if ( set -C; echo "$$ $(proc_start $$) $(date -Is) $label" >"$file" ) 2>/dev/null; then
        return 0
      fi
      # taken in between by another process (then wait for it), or not writable
      tries=$((tries + 1))
      (( tries < 5 )) || die "cannot create the lock file $file"
      continue
    fi
    echo "$(date +%T) waiting: $busy is held ($(head -c 200 "$busy" 2>/dev/null | head -n 1)): a benchmark or load test is running; checking again in $interval s"
    sleep "$interval"
  done
}

release_lock() { # FILE: removed if this process holds it
  if [[ $(cut -d' ' -f1 "$1" 2>/dev/null || true) == "$$" ]]; then
    rm -f "$1"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# CPU accounting from /proc (ticks: user + nice + system + irq + softirq + steal are busy; idle + iowait are idle)
# ---------------------------------------------------------------------------------------------------------------
pid_ticks() { # PID... -> their user + system ticks, summed ("" or gone: 0)
  local pid t sum=0
  for pid in "$@"; do
    [[ -n $pid ]] || continue
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}

cpu_ticks() { # [N...] -> "busy idle N...": the machine's ticks, then the caller's numbers (first: its own ticks)
  awk -v rest="$*" '/^cpu / { if (rest != "") print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6, rest
    else print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

cpu_share() { # "A" "B" (two cpu_ticks) -> "busy% others% field4% ...": shares of all cores over the interval
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; total = busy + y[2] - x[2];
    if (total <= 0) { s = "0 0"; for (i = 4; i <= n; i++) s = s " 0"; print s; exit }
    ours = y[3] - x[3]; others = busy - ours; if (others < 0) others = 0
    s = sprintf("%.0f %.0f", 100 * busy / total, 100 * others / total)
    for (i = 4; i <= n; i++) { d = y[i] - x[i]; if (d < 0) d = 0; s = s sprintf(" %.0f", 100 * d / total) }
    print s }'
}

cpu_busy() { # SECONDS COMMAND... -> cpu_share of COMMAND's sample now and SECONDS later
  local secs=$1 a
  shift
  a=$("$@")
  sleep "$secs"
  cpu_share "$a" "$("$@")"
}

http_up() { # PORT -> 0 if something answers HTTP there
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null || true)
  [[ -n $code && $code != 000 ]]
}

wait_http() { # PID PORT NAME LOG: until it answers (60 s at most), failing if the process dies
  local pid=$1 port=$2 name=$3 log=$4 i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log"; die "$name exited during start-up (log: ${log#"$ROOT"/})"; }
    if http_up "$port"; then
      listener_is "$port" "$pid" || die "port $port is held by another process, not by $name (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$log"
  die "$name did not answer on port $port within 60 s"
}

# ---------------------------------------------------------------------------------------------------------------
# The gateway's JVM options
# ---------------------------------------------------------------------------------------------------------------
# The Dockerfile's, but for the heap size (there relative to the container's memory). Keep the two in step (a test
# checks). Lazy card refinement was tried in session 10 and not adopted (docs/benchmarks-history.md).
gateway_jvm_defaults() {
  echo "-XX:MaxTenuringThreshold=1 -XX:MaxGCPauseMillis=50"
}

AP_VERSION=3.0
AP_LIB=""
AP_WHY=""
# shellcheck disable=SC2034  # AP_LIB and AP_WHY are for the caller
async_profiler() {
  local dir=$1/async-profiler-$AP_VERSION log=$2 tool
  AP_LIB="" AP_WHY=""
  if [[ $(uname -sm) != "Linux x86_64" ]]; then
    AP_WHY="async-profiler's linux-x64 build needs Linux on x86-64, not $(uname -sm)"
    return 1
  fi
  command -v jcmd >/dev/null 2>&1 || { AP_WHY="jcmd is not on PATH"; return 1; }
  if [[ ! -f $dir/libasyncProfiler.so ]]; then
    for tool in mvn jar; do
      command -v "$tool" >/dev/null 2>&1 || { AP_WHY="$tool is not on PATH (needed to fetch it)"; return 1; }
    done
    mkdir -p "$dir"
    if ! mvn -B -ntp dependency:copy -Dartifact="tools.profiler:async-profiler:$AP_VERSION:jar:linux-x64" \
        -DoutputDirectory="$dir" >"$log" 2>&1; then
      AP_WHY="could not fetch async-profiler $AP_VERSION from Maven Central (log: $log)"
      return 1
    fi
    if ! (cd "$dir" && jar xf "async-profiler-$AP_VERSION-linux-x64.jar" linux-x64/libasyncProfiler.so \
        && mv linux-x64/libasyncProfiler.so . && rmdir linux-x64) >>"$log" 2>&1; then
      AP_WHY="could not extract async-profiler's library (log: $log)"
      return 1
    fi
  fi
  AP_LIB=$dir/libasyncProfiler.so
}

profiler() {
  jcmd "$1" JVMTI.agent_load "$AP_LIB" "\"$2\"" >>"$3" 2>&1
}
