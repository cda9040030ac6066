# The Debian 12 packages each script needs, in one place, and the one
# function that installs the missing ones. Sourced, not run, by
# scripts/build.sh (build_packages), scripts/test.sh (test_packages,
# node_packages), scripts/fuzz.sh (fuzz_packages) and .ci/run (all of them).
# Why each package is there: docs/building.md, "Why each dependency".

# Building broadcast-server: the compiler and build tools, and the libraries
# the top CMakeLists.txt finds.
build_packages=(g++ cmake ninja-build pkg-config
                libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libcli11-dev libspdlog-dev
                libsqlite3-dev libicu-dev libncurses-dev)

# Building and running the test suite: GoogleTest and nlohmann-json (the C++
# tests and vectors), the Python and Ruby clients' libraries, tmux (the
# terminal tests).
test_packages=(libgtest-dev nlohmann-json3-dev
               python3 python3-zmq python3-msgpack
               ruby ruby-ffi-rzmq ruby-msgpack
               tmux)

# The Node.js client's tests; installed only when no npm is on the PATH (one
# from elsewhere, e.g. NodeSource, is used as it is).
node_packages=(nodejs npm)

# scripts/fuzz.sh: Clang and its libFuzzer and sanitizer runtimes.
fuzz_packages=(clang libclang-rt-14-dev)

# install_packages PACKAGE...: installs those not installed yet with
# apt-get (through sudo unless root), after printing them and the command.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing ${#missing[@]} Debian package(s): ${missing[*]}" >&2
  echo "+ ${sudo[*]:+${sudo[*]} }apt-get update && ${sudo[*]:+${sudo[*]} }apt-get install -y --no-install-recommends ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
