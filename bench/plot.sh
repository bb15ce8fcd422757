#!/usr/bin/env bash
# Renders the plots of docs/benchmarks.md from a bench/run.sh run: latency percentiles per scenario and answers per
# second over time (from the RESULT and SERIES lines the wrk script prints).
# Usage (from the repo root): bash bench/plot.sh [bench/out/run-<timestamp>]   (default: the newest run)
# Output: docs/img/latency-percentiles.png, docs/img/throughput.png, docs/img/open-loop.png (p50 and p99 of the
# constant-rate runs by offered rate, from the run's results file). Needs gnuplot (installed with apt-get if
# missing, when run as root).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUN=${1:-$(ls -d bench/out/run-* 2>/dev/null | sort | tail -n 1)}
[[ -n $RUN && -d $RUN ]] || { echo "no bench/out/run-* folder: run bash bench/run.sh first" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq gnuplot-nox >/dev/null
  else
    echo "gnuplot is needed (apt-get install gnuplot-nox)" >&2
    exit 1
  fi
fi
OUT=docs/img
mkdir -p "$OUT"
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT

# The scenarios plotted, by the label run.sh gives their wrk log, and the name shown.
SCENARIOS=("hot-ceiling-1:ceiling, hot" "hot-gateway-1:gateway, hot" "paced-gateway:gateway, paced"
  "warm-1:gateway, warm (10k readers)" "cold-1:gateway, cold (a million readers)" "stalled:gateway, Redis stalled")

PCT=$DATA/percentiles.dat
echo "# scenario p50 p90 p99 p99.9" >"$PCT"
THROUGHPUT_PLOTS=()
i=0
for entry in "${SCENARIOS[@]}"; do
  label=${entry%%:*}
  name=${entry#*:}
  # exactly wrk-<number>-<label>.txt: "cold-1" must not pick "warmup-cold-1"
  log=$(ls "$RUN"/wrk-[0-9][0-9]-"$label".txt "$RUN"/wrk-[0-9][0-9][0-9]-"$label".txt 2>/dev/null | head -n 1 || true)
  [[ -n $log ]] || continue
  result=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  [[ -n $result ]] || continue
  f() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
  printf '"%s" %s %s %s %s\n' "$name" "$(f p50)" "$(f p90)" "$(f p99)" "$(f p999)" >>"$PCT"
  series=$(grep '^SERIES ' "$log" | tail -n 1 | cut -d' ' -f2 || true)
  if [[ -n $series ]]; then
    i=$((i + 1))
    # seconds since the run's first second, answers in that second (the first and last seconds are partial: dropped)
    tr ',' '\n' <<<"$series" | awk -F: 'NF == 2 { s[NR] = $1; c[NR] = $2; n = NR }
      END { for (k = 2; k < n; k++) print s[k] - s[1], c[k] }' >"$DATA/t$i.dat"
    THROUGHPUT_PLOTS+=("'$DATA/t$i.dat' using 1:2 with linespoints title '$name'")
  fi
done
(( $(wc -l <"$PCT") > 1 )) || { echo "no wrk results in $RUN" >&2; exit 1; }

gnuplot <<GP
set terminal pngcairo size 1000,560 font "sans,10"
set output "$OUT/latency-percentiles.png"
set title "Latency percentiles by scenario ($(basename "$RUN"), wrk, 64 connections, 2 cores shared)"
set style data histogram
set style histogram clustered gap 2
set style fill solid 0.8 border -1
set logscale y
set ylabel "ms (log scale)"
set yrange [0.1:*]
set key top left
set xtics rotate by -20
set grid ytics
plot "$PCT" using 2:xtic(1) title "p50", "" using 3 title "p90", "" using 4 title "p99", "" using 5 title "p99.9"
GP
echo "wrote $OUT/latency-percentiles.png"

if (( ${#THROUGHPUT_PLOTS[@]} > 0 )); then
  plots=$(IFS=,; echo "${THROUGHPUT_PLOTS[*]}")
  gnuplot <<GP
set terminal pngcairo size 1000,560 font "sans,10"
set output "$OUT/throughput.png"
set title "Answers per second over each run ($(basename "$RUN"); Redis stalled from 1 s into its run)"
set xlabel "seconds into the run"
set ylabel "answers per second"
set yrange [0:*]
set key outside right
set grid
plot $plots
GP
  echo "wrote $OUT/throughput.png"
else
  echo "no SERIES lines in $RUN (a run from before the wrk script printed them): no throughput plot"
fi

# Constant rate (open loop): the "open loop ceiling|gateway rate=..." lines of the run's results file
RESULTS_FILE=bench/out/results-$(basename "$RUN" | sed 's/^run-//').txt
if [[ -f $RESULTS_FILE ]] && grep -q '^  open loop \(ceiling\|gateway\) ' "$RESULTS_FILE"; then
  for who in ceiling gateway; do
    grep "^  open loop $who " "$RESULTS_FILE" | sed 's/= */=/g' | tr ' ' '\n' | awk -F= '
      $1 == "rate" { r = $2 } $1 == "p50" { p50 = $2 } $1 == "p99" { print r, p50, $2 }' >"$DATA/ol-$who.dat"
  done
  gnuplot <<GP
set terminal pngcairo size 1000,560 font "sans,10"
set output "$OUT/open-loop.png"
set title "Constant arrival rate (open loop), hot reader: latency by offered rate ($(basename "$RUN"))"
set xlabel "offered requests per second"
set ylabel "ms (log scale)"
set logscale y
set key top left
set grid
plot "$DATA/ol-ceiling.dat" using 1:3 with linespoints title "ceiling p99", \
     "$DATA/ol-gateway.dat" using 1:3 with linespoints title "gateway p99", \
     "$DATA/ol-ceiling.dat" using 1:2 with linespoints dashtype 2 title "ceiling p50", \
     "$DATA/ol-gateway.dat" using 1:2 with linespoints dashtype 2 title "gateway p50", \
     5 with lines dashtype 3 lc rgb "red" title "target: p99 < 5 ms"
GP
  echo "wrote $OUT/open-loop.png"
else
  echo "no open-loop lines in $RESULTS_FILE: no open-loop plot"
fi
