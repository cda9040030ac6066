#!/usr/bin/env bash
# Installs the test tools (scripts/packages.sh: test_packages, and Node.js
# with the Node client's pinned npm packages), builds with warnings as errors
# and runs every test (unit, integration over loopback, end to end, install,
# terminal, the script clients); then builds again with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs every test again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
install_packages "${test_packages[@]}"
command -v npm >/dev/null || install_packages "${node_packages[@]}"
# The Node.js client's pinned packages (zeromq ships its binaries inside).
if [ ! -d scripts/clients/node/node_modules ]; then
  echo "+ (cd scripts/clients/node && npm ci)" >&2
  (cd scripts/clients/node && npm ci --no-audit --no-fund --loglevel=error)
fi

with_tests=(-DBCAST_WERROR=ON -DBCAST_TESTS=ON -DBCAST_BENCH=ON)

echo "== build (-Werror) and test"
BUILD_DIR=build scripts/build.sh "${with_tests[@]}"
ctest --test-dir build --output-on-failure -j2

echo "== build with ASan+UBSan and test"
BUILD_DIR=build-sanitize BUILD_TYPE=Debug scripts/build.sh "${with_tests[@]}" -DBCAST_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure -j2
