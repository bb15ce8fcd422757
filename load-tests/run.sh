#!/usr/bin/env bash
# Opentime load tests: Redis with READERS profiles, tokens minted by the gateway's own `token` command, a gateway, and
# one Gatling simulation against it. Everything listens on / talks to 127.0.0.1 on free ports and is stopped on exit.
#
#   bash load-tests/run.sh [campaign|redis|events] [-Dproperty=value ...]
#
#   campaign  CampaignBurst on `serve` (no Kafka: the pixel answers; its open events are counted as events_off)
#   redis     RedisTrouble through load-tests/redis-trouble.sh: Redis SIGSTOPped for STALL_SECONDS during the load
#   events    EventStorm on `serve` with Kafka (the jar's embedded KRaft broker, in its own JVM through
#             load-tests/KafkaBroker.java): the signed webhook, the open events and the profile updater are on
#
# Knobs (environment): READERS (100000), RATE (1000 opens/s), WARMUP (10 s, not measured), RAMP (5 s), DURATION
# (30 s), EVENT_RATE (20 batches/s), BATCH_SIZE (50), STALL_AFTER (10 s), STALL_SECONDS (10 s), OPENTIME_JAR
# (target/opentime-gateway.jar), GATEWAY_JAVA_OPTS (none). Extra arguments go to `mvn gatling:test`, e.g. -Dp99Ms=20.
# Exit code: 0 when the simulation's SLO assertions passed, non-zero otherwise. Details: load-tests/README.md.
set -euo pipefail
# die, stop_pid, free_port, redis_server_bin, start_redis, locks, CPU ticks ...: bench/lib.sh
# shellcheck source-path=SCRIPTDIR source=../bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench/lib.sh"

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

SIM=${1:-campaign}
[[ $# -gt 0 ]] && shift
case $SIM in
  campaign) CLASS=CampaignBurst ;;
  redis) CLASS=RedisTrouble ;;
  events) CLASS=EventStorm ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; echo "unknown simulation '$SIM' (campaign, redis or events)" >&2; exit 2 ;;
esac

READERS=${READERS:-100000}
RATE=${RATE:-1000}
RAMP=${RAMP:-5}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-10}
WARMUP_READERS=20000   # readers w0..w19999, no profile: the warm-up goes through the same Redis reads, caches no measured reader
EVENT_RATE=${EVENT_RATE:-20}
BATCH_SIZE=${BATCH_SIZE:-50}
STALL_AFTER=${STALL_AFTER:-10}
STALL_SECONDS=${STALL_SECONDS:-10}
GATEWAY_JAVA_OPTS=${GATEWAY_JAVA_OPTS:-}
SENDER=news@opentime.example
# Shared machines: wait while a benchmark holds BENCH_LOCK (/tmp/opentime-bench.lock); hold LOAD_LOCK
# (/tmp/opentime-load-tests.lock) while this script runs. Both from the environment if set (bench/lib.sh).

[[ $READERS =~ ^[1-9][0-9]*$ ]] || die "READERS must be a positive integer"
[[ $RAMP =~ ^[0-9]+$ && $WARMUP =~ ^[0-9]+$ && $DURATION =~ ^[1-9][0-9]*$ ]] || die "WARMUP, RAMP and DURATION are whole seconds"
if [[ $SIM == redis ]] && (( RAMP + DURATION <= STALL_AFTER + STALL_SECONDS )); then
  die "RAMP + DURATION ($((RAMP + DURATION)) s) must be longer than STALL_AFTER + STALL_SECONDS ($((STALL_AFTER + STALL_SECONDS)) s)"
fi

START_DIR=$(pwd)
LT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$LT")
cd "$ROOT"
resolve_jar "$START_DIR" "$ROOT"
OUT=$LT/out
TS=$(date +%Y%m%d-%H%M%S)
RUN_DIR=$OUT/run-$TS-$SIM
mkdir -p "$RUN_DIR"
require_tools java mvn curl awk sed

# ---------------------------------------------------------------------------------------------------------------
# Processes we start are remembered here and stopped on exit, Ctrl-C or error
# ---------------------------------------------------------------------------------------------------------------
REDIS_PID=""
SAMPLER_PID=""
KAFKA_PID=""
GW_PID=""

cleanup() { # RC (exit_traps)
  local rc=$1
  [[ -n $REDIS_PID ]] && kill -CONT "$REDIS_PID" 2>/dev/null   # never leave a stopped Redis behind
  [[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null
  stop_pid "$GW_PID" gateway 20   # SIGTERM, up to 20 s, then SIGKILL
  stop_pid "$KAFKA_PID" kafka 20
  stop_pid "$REDIS_PID" redis 20
  rm -f "$RUN_DIR/opentime-gateway.jar"
  release_lock "$LOAD_LOCK"
  (( rc == 0 )) || echo "load-tests/run.sh $SIM: exit $rc; logs in ${RUN_DIR#"$ROOT"/}/"
}
exit_traps cleanup

# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------
# CPU accounting: the machine's busy ticks, and the ticks of this script's process group (Redis, Kafka, the gateway,
# Maven and Gatling), so the output can say how much CPU other processes took while the load ran.
PGID=$(ps -o pgid= -p $$ | tr -d ' ')
lt_ticks() { # -> "busy idle ours gateway redis kafka load-generator" (cpu_ticks; load generator: ours minus the rest)
  local ours gw rd kf
  ours=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$PGID" '{ sub(/^.*\) /, ""); if ($3 == g) s += $12 + $13 } END { print s + 0 }')
  gw=$(pid_ticks "$GW_PID")
  rd=$(pid_ticks "$REDIS_PID")
  kf=$(pid_ticks "$KAFKA_PID")
  cpu_ticks "$ours" "$gw" "$rd" "$kf" "$((ours - gw - rd - kf))"
}
# cpu_share A B (two lt_ticks) -> "busy% others% gateway% redis% kafka% load-generator%" (of all cores)
cpu_sampler() { # every 5 s: cpu_share of the last 5 s
  local a b
  a=$(lt_ticks)
  while sleep 5; do
    b=$(lt_ticks)
    cpu_share "$a" "$b"
    a=$b
  done
}

random_key() { # KID -> kid:base64(32 random bytes)
  echo "$1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
}

# ---------------------------------------------------------------------------------------------------------------
# Lock, jar, Redis, profiles, tokens, gateway
# ---------------------------------------------------------------------------------------------------------------
acquire_lock "$LOAD_LOCK" "load-tests/run.sh $SIM" 30 "$BENCH_LOCK"

echo "== Opentime load test: $CLASS ($(date -Is))"
echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "note:    Gatling, the gateway, Redis (and Kafka) share this machine: the load generator takes CPU from the gateway"

if [[ ! -f $JAR ]]; then
  echo "building the gateway jar (mvn -B -ntp -q -DskipTests package) ..."
  mvn -B -ntp -q -DskipTests package >"$RUN_DIR/build.log" 2>&1 || { tail -n 30 "$RUN_DIR/build.log"; die "building the gateway failed"; }
  [[ -f $JAR ]] || die "the build did not produce $JAR"
fi
# A private copy for this run: a rebuild of target/ during the run (a shared working tree) cannot swap it
cp -p "$JAR" "$RUN_DIR/opentime-gateway.jar"
JAR=$RUN_DIR/opentime-gateway.jar
if command -v unzip >/dev/null; then
  [[ $(unzip -l "$JAR" 2>/dev/null | grep -cE ' (io/opentime/Main|io/vertx/core/Vertx|kafka/server/KafkaRaftServer)\.class$') == 3 ]] \
    || die "${OPENTIME_JAR:-target/opentime-gateway.jar} is not a complete gateway jar (being rebuilt?): try again"
fi

redis_server_bin "$JAR" "$OUT"
start_redis "$RUN_DIR" --maxmemory-policy noeviction
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
echo "redis:   pid $REDIS_PID, $REDIS_URL ($("$REDIS_BIN" --version | awk '{ print $3 }'))"

# the benchmark's loader, run exactly as bench/run.sh runs it: profiles u0..u<READERS-1> and the catalog
timeout 300 java -cp "$JAR" bench/LoadProfiles.java "$REDIS_URL" "$READERS" >"$RUN_DIR/load-profiles.log" 2>&1 </dev/null \
  || { cat "$RUN_DIR/load-profiles.log"; die "loading profiles failed"; }
echo "profiles: $(tail -n 1 "$RUN_DIR/load-profiles.log")"

# Keys: random for this run, kept only in this process's environment and its children's (never in a file)
TOKEN_KEYS=$(random_key load)
WEBHOOK_KEYS=$(random_key loadhook)
UIDS=$OUT/uids.txt
TOKENS=$OUT/tokens.txt
WARMUP_UIDS=$OUT/warmup-uids.txt
WARMUP_TOKENS=$OUT/warmup-tokens.txt
seq 0 $((READERS - 1)) | sed 's/^/u/' >"$UIDS"
seq 0 $((WARMUP_READERS - 1)) | sed 's/^/w/' >"$WARMUP_UIDS"
t0=$(date +%s%N)
cat "$UIDS" "$WARMUP_UIDS" | OPENTIME_TOKEN_KEYS=$TOKEN_KEYS timeout 300 java -jar "$JAR" token --uids-file - \
  --campaign load-test --ttl 1d >"$RUN_DIR/all-tokens.txt" 2>"$RUN_DIR/token.log" \
  || { cat "$RUN_DIR/token.log"; die "minting tokens failed"; }
(( $(wc -l <"$RUN_DIR/all-tokens.txt") == READERS + WARMUP_READERS )) || die "the token command minted the wrong number of tokens"
head -n "$READERS" "$RUN_DIR/all-tokens.txt" >"$TOKENS"
tail -n "$WARMUP_READERS" "$RUN_DIR/all-tokens.txt" >"$WARMUP_TOKENS"
rm -f "$RUN_DIR/all-tokens.txt"
echo "tokens:  $READERS readers (u*) + $WARMUP_READERS warm-up readers without a profile (w*), minted with the gateway's token command in $(( ($(date +%s%N) - t0) / 1000000 )) ms -> ${TOKENS#"$ROOT"/}"

if [[ $SIM == events ]]; then
  # Kafka for the webhook, the open events and the updater. Not `serve --demo`: it refuses OPENTIME_WEBHOOK_KEYS
  # without a configured Kafka, and its own generated webhook key would be unknown to this script.
  KAFKA_LOG=$RUN_DIR/kafka.log
  java -cp "$JAR" "$LT/KafkaBroker.java" >"$KAFKA_LOG" 2>&1 </dev/null &
  KAFKA_PID=$!
  KAFKA=""
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$KAFKA_PID" 2>/dev/null || { tail -n 30 "$KAFKA_LOG"; die "the Kafka broker exited during start-up"; }
    KAFKA=$(sed -n 's/^READY //p' "$KAFKA_LOG" 2>/dev/null || true)
    [[ -n $KAFKA ]] && break
    sleep 0.1
  done
  [[ -n $KAFKA ]] || { tail -n 30 "$KAFKA_LOG"; die "the Kafka broker was not ready within 120 s"; }
  echo "kafka:   pid $KAFKA_PID, $KAFKA (load-tests/KafkaBroker.java: the jar's embedded KRaft broker), log ${KAFKA_LOG#"$ROOT"/}"
fi

free_port GW_PORT
free_port MGMT_PORT
GW=http://127.0.0.1:$GW_PORT
GW_LOG=$RUN_DIR/gateway.log
GW_ENV=(OPENTIME_HTTP_HOST=127.0.0.1 OPENTIME_HTTP_PORT=$GW_PORT OPENTIME_MANAGEMENT_HOST=127.0.0.1
  OPENTIME_MANAGEMENT_PORT=$MGMT_PORT OPENTIME_REDIS_URL=$REDIS_URL OPENTIME_TOKEN_KEYS=$TOKEN_KEYS
  OPENTIME_AMP_SENDERS=$SENDER)
if [[ $SIM == events ]]; then
  GW_ENV+=(OPENTIME_KAFKA_BOOTSTRAP_SERVERS=$KAFKA OPENTIME_WEBHOOK_KEYS=$WEBHOOK_KEYS)
fi
# shellcheck disable=SC2086
env "${GW_ENV[@]}" java $GATEWAY_JAVA_OPTS -jar "$JAR" serve >"$GW_LOG" 2>&1 </dev/null &
GW_PID=$!
ready=""
for ((i = 0; i < 1200; i++)); do
  kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$GW_LOG"; die "the gateway exited during start-up"; }
  if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$MGMT_PORT/health/ready" || true) == 200 ]]; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ -n $ready ]] || { tail -n 30 "$GW_LOG"; die "the gateway was not ready within 120 s"; }
echo "gateway: pid $GW_PID, $GW (java -jar ${JAR#"$ROOT"/} serve), management http://127.0.0.1:$MGMT_PORT, log ${GW_LOG#"$ROOT"/}"

# Smoke checks before the load: reader u0 is Ada (bench/LoadProfiles.java); the webhook route is on for events
answer=$(curl -s --max-time 5 -w ' %{http_code}' -H "AMP-Email-Sender: $SENDER" "$GW/v1/amp/greeting?t=$(head -n 1 "$TOKENS")")
[[ $answer == *'"first_name":"Ada"'*' 200' ]] || die "smoke check: u0's greeting answered '$answer'"
if [[ $SIM == events ]]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' -d '{"events":[]}' "$GW/v1/events")
  [[ $code == 401 ]] || die "smoke check: an unsigned POST /v1/events answered $code, expected 401"
fi
echo "smoke:   u0's greeting is Ada (200)$([[ $SIM == events ]] && echo "; an unsigned POST /v1/events is 401" || true)"

# ---------------------------------------------------------------------------------------------------------------
# The simulation
# ---------------------------------------------------------------------------------------------------------------
GATLING_ARGS=(-Dgateway="$GW" -Dtokens="$TOKENS" -Duids="$UIDS" -DwarmupTokens="$WARMUP_TOKENS" -DwarmupUids="$WARMUP_UIDS"
  -Drate="$RATE" -Dwarmup="$WARMUP" -Dramp="$RAMP" -Dduration="$DURATION" -DeventRate="$EVENT_RATE" -DbatchSize="$BATCH_SIZE" "$@")
GATLING_LOG=$RUN_DIR/gatling.log
echo
extra=""
[[ $SIM == events ]] && extra=", $EVENT_RATE batches/s of $BATCH_SIZE events"
[[ $SIM == redis ]] && extra=", Redis SIGSTOPped ${STALL_AFTER}s into the measured load for ${STALL_SECONDS}s"
echo "== $CLASS: $RATE opens/s (warm-up ${WARMUP}s not measured, then ramp ${RAMP}s and ${DURATION}s measured)$extra"
read -r busy others _ < <(cpu_busy 2 lt_ticks)
echo "cpu:     ${busy}% busy in the 2 s before the load, ${others}% by other processes; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if (( others > 20 )); then
  echo "WARNING: other processes are keeping the CPUs busy: the numbers below will be skewed"
fi
CPU_LOG=$RUN_DIR/cpu.txt
cpu_sampler >"$CPU_LOG" 2>/dev/null &
SAMPLER_PID=$!
rc=0
if [[ $SIM == redis ]]; then
  REDIS_PID=$REDIS_PID STALL_AFTER=$STALL_AFTER STALL_SECONDS=$STALL_SECONDS TROUBLE_LOG=$GATLING_LOG \
    bash "$LT/redis-trouble.sh" "${GATLING_ARGS[@]}" || rc=$?
else
  # the webhook key reaches the simulation through the environment, not the command line
  WEBHOOK_KEY=$WEBHOOK_KEYS mvn -B -ntp -f "$LT/pom.xml" gatling:test -Dgatling.simulationClass="io.opentime.load.$CLASS" \
    "${GATLING_ARGS[@]}" 2>&1 </dev/null | tee "$GATLING_LOG" || rc=$?
fi

kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
CPU_SUMMARY=$(awk '{ n++; b += $1; o += $2; if ($2 > m) m = $2; g += $3; r += $4; k += $5; l += $6 }
  END { if (!n) { print "no sample"; exit }
    printf "machine %.0f%% busy (of %d cores); gateway %.0f%%, Redis %.0f%%, Kafka %.0f%%, Gatling+Maven %.0f%%, other processes %.0f%% (at most %d%% in a 5 s window)",
      b / n, c, g / n, r / n, k / n, l / n, o / n, m }' c="$(nproc)" "$CPU_LOG")

# ---------------------------------------------------------------------------------------------------------------
# What the gateway saw
# ---------------------------------------------------------------------------------------------------------------
echo
echo "== gateway counters after the run (management /metrics)"
curl -s --max-time 5 "http://127.0.0.1:$MGMT_PORT/metrics" 2>/dev/null \
  | grep -E '^opentime_(events_tracked|events_not_tracked|events_delivered|webhook_requests|webhook_events|updater_applied|cache_invalidations|fallbacks|tokens_rejected)[a-z_]*(\{|\s)' \
  | awk '$NF != "0.0" && $NF != "0"' | sed 's/^/  /' || true
warns=$(grep -cE ' (WARN|ERROR) |"level":"(WARN|ERROR)"' "$GW_LOG" || true)
echo "  gateway log: $warns WARN/ERROR lines (${GW_LOG#"$ROOT"/})"
grep -E ' (WARN|ERROR) |"level":"(WARN|ERROR)"' "$GW_LOG" | head -n 5 | cut -c1-300 | sed 's/^/    /' || true

report=$(grep -o 'file://[^ ]*index.html' "$GATLING_LOG" | tail -n 1 || true)
echo
echo "== result"
echo "  Gatling report: ${report:-none (see ${GATLING_LOG#"$ROOT"/})}"
echo "  Gatling output: ${GATLING_LOG#"$ROOT"/}"
echo "  CPU during the load: $CPU_SUMMARY"
if (( rc == 0 )); then
  echo "  $CLASS: PASSED (every SLO assertion held)"
else
  echo "  $CLASS: FAILED (exit $rc: an SLO assertion failed or the run did not complete)"
fi
exit "$rc"
