#!/usr/bin/env bash
# What keeping history on disk costs (issue 16), in three measurements, each
# comparing the broker as users start it (the default history directory)
# with history in memory (--db :memory:, the baseline: no disk at all) and
# with --durable:
#   1. the fan-out of broadcast-bench (1 publisher; 1, 10, 100 subscribers;
#      64 B and 1 KiB; closed loop), the three run interleaved in every cell,
#      RUNS times; the table's last column is each store's delivered msgs/s
#      divided by memory's in the same run;
#   2. one piped sender (`seq … | broadcast-server connect`), acknowledged
#      msgs/s, the three modes interleaved, RUNS times, medians;
#   3. start-up with a big history: the directory filled with GB gigabytes of
#      1 KiB messages, then the time from starting the broker to its
#      "listening" line (after reading and checking every record), after a
#      clean stop and after `kill -9`.
#
#   scripts/store_bench.sh [--runs R] [--count N] [--startup-gb GB] [--skip-fanout]
#   (defaults: 3 runs, 200000 messages, 1 GB)
#
# BUILD_DIR (default build) holds the binaries; they are built when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
count=200000
startup_gb=1
fanout=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    --startup-gb) startup_gb="$2"; shift 2 ;;
    --skip-fanout) fanout=0; shift ;;
    *) echo "usage: scripts/store_bench.sh [--runs R] [--count N] [--startup-gb GB] [--skip-fanout]" >&2; exit 2 ;;
  esac
done

build_dir="${BUILD_DIR:-build}"
bin="$build_dir/app/broadcast-server"
bench="$build_dir/bench/broadcast-bench"
[[ -x "$bin" && -x "$bench" ]] || BUILD_DIR="$build_dir" scripts/build.sh -DBCAST_BENCH=ON >&2

work="$(mktemp -d)"
broker_pid=""
cleanup() {
  [[ -n "$broker_pid" ]] && kill -9 "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "# History on disk: $(date -u '+%F %H:%M') UTC, $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# 1. Fan-out.
if ((fanout)); then
  tsvs=()
  for ((r = 1; r <= runs; r++)); do
    "$bench" --broker "$bin" --scenario fanout --systems ours,ours-memory,ours-durable \
      --subs 1,10,100 --sizes 64,1024 --modes closed --tsv "$work/fanout-$r.tsv" >/dev/null
    tsvs+=("$work/fanout-$r.tsv")
    echo "fan-out run $r/$runs done" >&2
  done
  "$bench" --aggregate "${tsvs[@]}" --markdown
fi

# Starts the broker with the given options on free ports; sets in, out,
# broker_pid, and took (seconds from exec to its "listening" line).
start_broker() {
  local started line deadline
  started="$(date +%s.%N)"
  # Gone first: the background start truncates it only once it runs, and the
  # wait below could read the last broker's ports meanwhile.
  rm -f "$work/broker.out" "$work/broker.err"
  "$bin" start --in 0 --out 0 "$@" >"$work/broker.out" 2>"$work/broker.err" &
  broker_pid=$!
  deadline=$((SECONDS + 120))
  until line="$(grep -m1 '^broadcast-server listening' "$work/broker.out" 2>/dev/null)"; do
    if ((SECONDS > deadline)) || ! kill -0 "$broker_pid" 2>/dev/null; then
      echo "store_bench: the broker did not start:" >&2
      cat "$work/broker.err" >&2
      exit 1
    fi
    sleep 0.01
  done
  took="$(echo "$started $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')"
  in="$(sed -E 's/.* in ([^ ]+) .*/\1/' <<<"$line")"
  out="$(sed -E 's/.* out ([^ ]+) .*/\1/' <<<"$line")"
}

stop_broker() {
  kill "-${1:-INT}" "$broker_pid"
  wait "$broker_pid" || true
  broker_pid=""
}

# 2. One piped sender: seconds for `count` acknowledged messages.
one_run() {
  rm -rf "$work/rooms"
  start_broker --history 100000 "$@"
  local start end
  start="$(date +%s.%N)"
  seq -f "store bench line %g" 1 "$count" |
    "$bin" connect --in "$in" --out "$out" --name store-bench --timeout 60 >/dev/null
  end="$(date +%s.%N)"
  stop_broker
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}

declare -A seconds
modes=(memory default durable)
for ((r = 1; r <= runs; r++)); do
  seconds[memory]+="$(one_run --db :memory:) "
  seconds[default]+="$(one_run --db "$work/rooms") "
  seconds[durable]+="$(one_run --db "$work/rooms" --durable) "
  echo "piped run $r/$runs done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "**One piped sender: $count messages, acknowledged msgs/s, median of $runs runs**"
echo
echo "| history | msgs/s | ÷ :memory: | seconds (each run) |"
echo "|---|---:|---:|---|"
base="$(median <<<"${seconds[memory]}")"
for m in "${modes[@]}"; do
  med="$(median <<<"${seconds[$m]}")"
  awk -v n="$count" -v s="$med" -v b="$base" -v m="$m" -v all="${seconds[$m]}" 'BEGIN {
    label = (m == "memory") ? "`--db :memory:`" : (m == "default") ? "default (`--db DIR`)" : "`--durable`"
    printf "| %s | %.0f | %.2f | %s|\n", label, n / s, b / s, all }'
done

# 3. Start-up with a big history: fill, then restart twice.
if awk -v g="$startup_gb" 'BEGIN { exit !(g > 0) }'; then
  messages=$(awk -v g="$startup_gb" 'BEGIN { printf "%d", g * 1024 * 1024 }')
  keep_mb=$(awk -v g="$startup_gb" 'BEGIN { printf "%d", g * 1024 + 256 }')
  rm -rf "$work/rooms"
  opts=(--db "$work/rooms" --history 10000000 --history-mb "$keep_mb" --max-text 2048)
  start_broker "${opts[@]}"
  awk -v n="$messages" 'BEGIN { pad = sprintf("%1000s", ""); gsub(/ /, "x", pad);
    for (i = 1; i <= n; i++) printf "%s %d\n", pad, i }' |
    "$bin" connect --in "$in" --out "$out" --name filler --history 0 --timeout 120 >/dev/null 2>&1 || true
  stop_broker
  disk="$(du -sh "$work/rooms" | cut -f1)"
  start_broker "${opts[@]}"
  clean_s="$took"
  loaded="$(grep -o '[0-9]* messages kept of [0-9]* stored' "$work/broker.err" | head -1)"
  stop_broker KILL
  start_broker "${opts[@]}"
  crash_s="$took"
  stop_broker
  echo
  echo "**Start-up with $disk of history ($loaded)**"
  echo
  echo "| restart after | seconds to listening |"
  echo "|---|---:|"
  echo "| a clean stop | $clean_s |"
  echo "| \`kill -9\` | $crash_s |"
fi
