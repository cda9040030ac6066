#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with Clang into build-fuzz/,
# replays their seed corpora, then fuzzes each target for SECONDS (default
# 60) from a temporary copy of its corpus, so the committed corpus never
# grows. Exits non-zero on a crash, leak, timeout or out-of-memory, and
# prints the input that caused it (kept in build-fuzz/artifacts/).
# Usage: scripts/fuzz.sh [SECONDS]   (installs clang and libclang-rt-14-dev
# when missing: scripts/packages.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(fuzz_codec fuzz_core fuzz_log)
build_dir=build-fuzz

source scripts/packages.sh
install_packages "${build_packages[@]}" "${fuzz_packages[@]}"

echo "== build the fuzz targets with clang"
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBCAST_FUZZ=ON -DBCAST_TESTS=OFF >/dev/null
cmake --build "$build_dir" --target "${targets[@]}"

echo "== replay the seed corpora"
ctest --test-dir "$build_dir" --output-on-failure

artifacts=$PWD/$build_dir/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
for target in "${targets[@]}"; do
  corpus=${target#fuzz_}
  echo "== fuzz $target for ${seconds}s"
  cp -r "tests/fuzz/corpus/$corpus" "$work/$corpus"
  rm -f "$artifacts/$target-"*
  if ! "$build_dir/tests/fuzz/$target" "$work/$corpus" -dict=tests/fuzz/bcast.dict \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$target-" >"$work/$target.log" 2>&1; then
    failed=1
    tail -n 60 "$work/$target.log"
    for input in "$artifacts/$target-"*; do
      [ -e "$input" ] || continue
      echo "FAILED: $target: $input ($(stat -c %s "$input") bytes)"
      od -An -v -tx1 "$input" | tr -d ' \n' | fold -w 128
      echo
    done
  else
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
      "$work/$target.log" || true
  fi
done
[ "$failed" -eq 0 ] && echo "== fuzzing found nothing in ${seconds}s per target"
exit "$failed"
