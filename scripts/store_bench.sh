#!/usr/bin/env bash
# Store throughput (issue 4): messages per second that one piped sender
# (`seq … | broadcast-server connect`) gets acknowledged when the broker keeps
# history in memory (--db :memory:), in a file (the default mode: a writer
# thread commits in batches) and in a file with --durable (ack only once
# committed). The three run interleaved, RUNS times each, on a fresh file
# each time; the table gives medians and the ratio against memory, which is
# the baseline because this machine is shared and noisy.
#
#   scripts/store_bench.sh [--count N] [--runs R]     (defaults: 50000, 5)
#
# BUILD_DIR (default build) holds the binary; it is built when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

count=50000
runs=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "usage: scripts/store_bench.sh [--count N] [--runs R]" >&2; exit 2 ;;
  esac
done

build_dir="${BUILD_DIR:-build}"
bin="$build_dir/app/broadcast-server"
[[ -x "$bin" ]] || BUILD_DIR="$build_dir" scripts/build.sh >&2

work="$(mktemp -d)"
broker_pid=""
cleanup() {
  [[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Prints the seconds one run of `count` messages took, for a broker started
# with the given options (on free ports, with room for every message).
one_run() {
  rm -f "$work"/history.db*
  "$bin" start --in 0 --out 0 --history 100000 "$@" >"$work/broker.out" 2>"$work/broker.err" &
  broker_pid=$!
  local line="" deadline=$((SECONDS + 10))
  until line="$(grep -m1 '^broadcast-server listening' "$work/broker.out" 2>/dev/null)"; do
    if ((SECONDS > deadline)) || ! kill -0 "$broker_pid" 2>/dev/null; then
      echo "store_bench: the broker did not start:" >&2
      cat "$work/broker.err" >&2
      exit 1
    fi
    sleep 0.05
  done
  local in out
  in="$(sed -E 's/.* in ([^ ]+) .*/\1/' <<<"$line")"
  out="$(sed -E 's/.* out ([^ ]+) .*/\1/' <<<"$line")"
  local start end
  start="$(date +%s.%N)"
  seq -f "store bench line %g" 1 "$count" |
    "$bin" connect --in "$in" --out "$out" --name store-bench --timeout 60 >/dev/null
  end="$(date +%s.%N)"
  kill -INT "$broker_pid"
  wait "$broker_pid" || true
  broker_pid=""
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}

declare -A seconds
modes=(memory file durable)
for ((r = 1; r <= runs; r++)); do
  seconds[memory]+="$(one_run --db :memory:) "
  seconds[file]+="$(one_run --db "$work/history.db") "
  seconds[durable]+="$(one_run --db "$work/history.db" --durable) "
  echo "run $r/$runs done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$count messages from one piped sender, median of $runs runs ($(date -u +%F), $(nproc) cores)"
echo
echo "| history | msgs/s | ratio to :memory: | seconds (each run) |"
echo "|---|---:|---:|---|"
base="$(median <<<"${seconds[memory]}")"
for m in "${modes[@]}"; do
  med="$(median <<<"${seconds[$m]}")"
  awk -v n="$count" -v s="$med" -v b="$base" -v m="$m" -v all="${seconds[$m]}" 'BEGIN {
    label = (m == "memory") ? "`--db :memory:`" : (m == "file") ? "`--db FILE`" : "`--db FILE --durable`"
    printf "| %s | %.0f | %.2f | %s|\n", label, n / s, b / s, all }'
done
