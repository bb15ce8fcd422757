#!/usr/bin/env bash
# Runs the RedisTrouble Gatling simulation and, during it, hangs Redis: SIGSTOP STALL_AFTER seconds after the measured
# load starts (after the unmeasured warm-up), SIGCONT STALL_SECONDS later (a hung Redis: connections stay open,
# replies never come). Redis is always resumed on exit, Ctrl-C or error (trap).
#
#   REDIS_PID=<pid of redis-server> bash load-tests/redis-trouble.sh \
#       -Dgateway=http://127.0.0.1:8080 -Dtokens=/path/tokens.txt [-Drate=1000 -Dduration=30 -Dp99Ms=50 ...]
#
# Environment: REDIS_PID (required), STALL_AFTER (default 10 s), STALL_SECONDS (default 10 s), TROUBLE_LOG (where the
# output is also written; default load-tests/out/redis-trouble-<timestamp>.log).
# Arguments: passed to `mvn gatling:test` (the simulation's -D properties, see load-tests/README.md). Make the measured
# run (ramp + duration) longer than STALL_AFTER + STALL_SECONDS. Exit code: Gatling's (non-zero when an SLO failed).
# load-tests/run.sh redis sets up Redis, the gateway and the tokens and calls this script.
set -euo pipefail

LT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REDIS_PID=${REDIS_PID:-}
STALL_AFTER=${STALL_AFTER:-10}
STALL_SECONDS=${STALL_SECONDS:-10}

die() { echo "redis-trouble.sh: $*" >&2; exit 2; }
[[ $REDIS_PID =~ ^[1-9][0-9]*$ ]] || die "set REDIS_PID to the pid of the redis-server to pause"
[[ $STALL_AFTER =~ ^[0-9]+$ && $STALL_SECONDS =~ ^[1-9][0-9]*$ ]] || die "STALL_AFTER and STALL_SECONDS are whole seconds"
kill -0 "$REDIS_PID" 2>/dev/null || die "no process $REDIS_PID"
comm=$(cat "/proc/$REDIS_PID/comm" 2>/dev/null || ps -o comm= -p "$REDIS_PID")
[[ $comm == redis-server* ]] || die "process $REDIS_PID is '$comm', not redis-server: refusing to SIGSTOP it"

mkdir -p "$LT/out"
LOG=${TROUBLE_LOG:-$LT/out/redis-trouble-$(date +%Y%m%d-%H%M%S).log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
STOPPED=0
STALLED=0
MVN_PID=""

resume() {
  if (( STOPPED )); then
    kill -CONT "$REDIS_PID" 2>/dev/null || true
    STOPPED=0
    echo "$(date +%T) redis-trouble: Redis SIGCONTed (pid $REDIS_PID)"
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  resume
  if [[ -n $MVN_PID ]] && kill -0 "$MVN_PID" 2>/dev/null; then
    kill -TERM "$MVN_PID" 2>/dev/null
    wait "$MVN_PID" 2>/dev/null
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

alive() { kill -0 "$MVN_PID" 2>/dev/null; }
sleep_while_alive() { # SECONDS: sleeps, returning early (1) if the simulation ended
  local end=$((SECONDS + $1))
  while (( SECONDS < end )); do
    alive || return 1
    sleep 0.2
  done
}

echo "redis-trouble: RedisTrouble simulation; Redis (pid $REDIS_PID) SIGSTOPped ${STALL_AFTER}s after the measured load starts, for ${STALL_SECONDS}s; log ${LOG#"$LT"/}"
mvn -B -ntp -f "$LT/pom.xml" gatling:test -Dgatling.simulationClass=io.opentime.load.RedisTrouble "$@" \
  > >(tee -a "$LOG") 2>&1 </dev/null &
MVN_PID=$!

# The simulation prints "measured load started at HH:MM:SS" when its first measured open starts (after Maven
# compiled it and after the warm-up)
for ((i = 0; i < 6000; i++)); do
  grep -q '^measured load started' "$LOG" 2>/dev/null && break
  alive || break
  sleep 0.1
done
if alive && sleep_while_alive "$STALL_AFTER"; then
  STOPPED=1
  kill -STOP "$REDIS_PID"
  echo "$(date +%T) redis-trouble: Redis SIGSTOPped (pid $REDIS_PID), ${STALL_AFTER}s into the measured load, for ${STALL_SECONDS}s"
  if sleep_while_alive "$STALL_SECONDS"; then
    STALLED=1
  else
    echo "redis-trouble: the simulation ended while Redis was stopped (make ramp + duration longer)"
  fi
  resume
else
  echo "redis-trouble: the simulation ended before Redis was stopped (did it start? log ${LOG#"$LT"/})"
fi
rc=0
wait "$MVN_PID" || rc=$?
MVN_PID=""
if (( rc == 0 && ! STALLED )); then
  echo "redis-trouble: FAILED: Redis was not stopped for the full ${STALL_SECONDS}s during the load, so the run proves nothing"
  rc=3
fi
exit "$rc"
