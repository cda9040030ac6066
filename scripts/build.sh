#!/usr/bin/env bash
# Builds broadcast-server into ./build (or BUILD_DIR), after installing the
# Debian packages that building needs (scripts/packages.sh: build_packages)
# if any is missing. Only the program: the tests are built by scripts/test.sh
# and the benchmark by scripts/bench.sh. Extra arguments go to cmake after
# ours, so they win (-DBCAST_TESTS=ON builds the tests too).
# Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
install_packages "${build_packages[@]}"

build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DBCAST_TESTS=OFF -DBCAST_BENCH=OFF "$@" >/dev/null
cmake --build "$build_dir"
