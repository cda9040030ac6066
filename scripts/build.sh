#!/usr/bin/env bash
# Installs the Debian packages broadcast-server needs (when any is missing)
# and builds it into ./build. Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build pkg-config libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
          libcli11-dev libspdlog-dev libsqlite3-dev libgtest-dev libedit-dev libicu-dev nlohmann-json3-dev python3 python3-zmq python3-msgpack
          tmux ruby ruby-ffi-rzmq ruby-msgpack clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Node.js client's pinned packages (zeromq ships its binaries inside).
if [ ! -d scripts/clients/node/node_modules ]; then
  command -v npm >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; $sudo apt-get install -y -qq nodejs npm >/dev/null; }
  (cd scripts/clients/node && npm ci --no-audit --no-fund --loglevel=error)
fi

build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build_dir"
