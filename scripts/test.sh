#!/usr/bin/env bash
# Builds with warnings as errors and runs every test (unit, integration over
# loopback, end to end, Python interop); then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs every test again.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build (-Werror) and test"
BUILD_DIR=build scripts/build.sh -DBCAST_WERROR=ON
ctest --test-dir build --output-on-failure -j2

echo "== build with ASan+UBSan and test"
BUILD_DIR=build-sanitize BUILD_TYPE=Debug scripts/build.sh -DBCAST_WERROR=ON -DBCAST_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure -j2
