#!/usr/bin/env bash
# Builds broadcast-bench and broadcast-server, runs the benchmark N times and
# prints one markdown table per scenario: each number is the median over the
# runs with its spread (min–max), headed by the date, the machine and the
# package versions. Progress goes to stderr, the tables to stdout.
#
# Usage: scripts/bench.sh [--quick] [--runs N] [--peers] [--save DIR] [-- broadcast-bench args]
#   --quick    a small matrix for a smoke run (1 and 10 subscribers, 64 B, 1 s)
#   --runs N   runs of the whole matrix (default 3)
#   --peers    also nats-server and redis-server (installed from Debian when
#              missing), started on free loopback ports and stopped on exit
#   --save DIR keep each run's raw results (DIR/runN.tsv, DIR/table.md);
#              broadcast-bench --aggregate DIR/run*.tsv --markdown prints them again
#   after --:  options for broadcast-bench (they replace the script's own,
#              e.g. -- --scenario fanout --subs 1,10,100)
# BUILD_DIR (default build) is configured with -DCMAKE_BUILD_TYPE=Release
# when it does not exist yet, and always with the benchmark on (BCAST_BENCH).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
runs=3
peers=0
save=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs="$2"; shift ;;
    --peers) peers=1 ;;
    --save) save="$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ $peers -eq 1 ]; then
  missing=()
  for p in nats-server redis-server libhiredis-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

build_dir=${BUILD_DIR:-build}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCAST_BENCH=ON >/dev/null
else
  # scripts/build.sh leaves the benchmark out; this also finds hiredis if it was just installed
  cmake "$build_dir" -DBCAST_BENCH=ON >/dev/null
fi
cmake --build "$build_dir" --target broadcast-bench broadcast-server >/dev/null
bench="$build_dir/bench/broadcast-bench"
broker="$build_dir/app/broadcast-server"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")

work=$(mktemp -d)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The script's defaults, each left out when the extra arguments name it.
args=(--broker "$broker")
default() {
  local name=$1
  shift
  for a in "${extra[@]}"; do
    [ "$a" = "$name" ] || [ "${a%%=*}" = "$name" ] && return 0
  done
  args+=("$name" "$@")
}
if [ $quick -eq 1 ]; then
  default --subs 1,10
  default --sizes 64
  default --duration 1
  default --clients 10
  default --rates 1000,10000
  default --idle-clients 100
  default --stall-seconds 1
fi

# Waits until something accepts on 127.0.0.1:$1 (at most 5 s).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench.sh: nothing listens on port $1" >&2
  return 1
}

systems=ours,ours-memory,proxy,proxy-bytes,direct
if [ $peers -eq 1 ]; then
  nats_port=$("$bench" --free-port)
  # Bounded per-subscriber buffers (NATS 64 MB and Redis 32 MB by default would
  # allow tens of GB with 1000 slow subscribers).
  printf 'max_pending: 16MB\n' >"$work/nats.conf"
  nats-server -a 127.0.0.1 -p "$nats_port" -c "$work/nats.conf" >"$work/nats.log" 2>&1 &
  nats_pid=$!
  server_pids+=("$nats_pid")
  redis_port=$("$bench" --free-port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --client-output-buffer-limit "pubsub 16mb 8mb 60" --daemonize no --loglevel warning \
    >"$work/redis.log" 2>&1 &
  redis_pid=$!
  server_pids+=("$redis_pid")
  wait_port "$nats_port"
  wait_port "$redis_port"
  systems+=,nats,redis
  args+=(--nats "127.0.0.1:$nats_port" --nats-pid "$nats_pid" --redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid")
fi
default --systems "$systems"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  echo "== run $i of $runs" >&2
  "$bench" "${args[@]}" "${extra[@]}" --tsv "$work/run$i.tsv" >/dev/null
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "$save" ]; then
  mkdir -p "$save"
  cp "$work"/run*.tsv "$save"/
fi

versions=(libzmq5 cppzmq-dev libmsgpack-cxx-dev g++)
[ $peers -eq 1 ] && versions+=(nats-server redis-server libhiredis-dev)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- broker proto app 2>/dev/null || commit+=" + uncommitted changes in broker/, proto/ or app/"
{
echo "### broadcast-bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "- packages: $(dpkg-query -W -f='${Package} ${Version}\n' "${versions[@]}" 2>/dev/null | paste -sd, - | sed 's/,/, /g')"
echo "- build: $build_type, commit $commit"
echo "- $runs run(s); each cell is the median (min–max) over the runs; load average before ${load_before}, after ${load_after}"
echo "- arguments: ${args[*]:2} ${extra[*]}"
"$bench" --aggregate "$work"/run*.tsv --markdown
} | if [ -n "$save" ]; then tee "$save/table.md"; else cat; fi
