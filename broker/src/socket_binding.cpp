// Checks an endpoint before the broker binds it and turns a failed bind into
// a sentence. ZeroMQ's ipc listener unlinks its path before binding, so a
// second broker on the same path would silently take the socket from the
// first (and a typo could delete a file): a live listener is found by
// connecting to the path, a stale socket file (connection refused) is left
// for ZeroMQ to replace.
#include "socket_binding.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bcast/broker/bind_error.hpp"

namespace bcast::broker {
namespace {

constexpr std::string_view ipc_scheme = "ipc://";

// What connect(2) to a Unix socket path tells of its listener.
enum class listener { none, live, unknown };

// Connects to `path` without waiting: a listening socket accepts at once
// (or its backlog is full: EAGAIN), a stale file refuses.
listener probe_unix_socket(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) return listener::unknown;  // ZeroMQ says why
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return listener::unknown;
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0 || error == EAGAIN || error == EINPROGRESS) return listener::live;
  if (error == ECONNREFUSED) return listener::none;
  return listener::unknown;
}

// Refuses an ipc path that is in use, or that holds something ZeroMQ
// would delete; abstract (@name) and wildcard (*) paths are left to it.
void check_ipc_path(const std::string& endpoint, bool in_socket) {
  const std::string path = endpoint.substr(ipc_scheme.size());
  if (path.empty() || path.front() == '@' || path.front() == '*') return;
  struct stat info{};
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there: ZeroMQ creates it
  if (!S_ISSOCK(info.st_mode)) {
    throw bind_error(endpoint + " exists and is not a socket; it is left as it is", "", in_socket);
  }
  if (probe_unix_socket(path) == listener::live) {
    throw bind_error(endpoint + " is in use by another running broker", "", in_socket);
  }
}

// The sentence for a failed bind of `endpoint` with `error` (an errno).
bind_error explain(const std::string& endpoint, int error, bool in_socket) {
  switch (error) {
    case EADDRINUSE:
      return {"address already in use: " + endpoint, "another broker?", in_socket};
    case EADDRNOTAVAIL:
      return {"cannot listen on " + endpoint + ": no network interface of this machine has that "
              "address", "see --bind;", in_socket};
    case ENODEV:
    case EINVAL:
      return {"cannot listen on " + endpoint + ": not an address or interface of this machine",
              "see --bind;", in_socket};
    case EACCES:
      return {"cannot listen on " + endpoint + ": permission denied", "ports below 1024 need "
              "root; an ipc path needs a writable directory;", in_socket};
    case ENOENT:
      return {"cannot listen on " + endpoint + ": its directory does not exist", "", in_socket};
    case ENAMETOOLONG:
      return {"cannot listen on " + endpoint + ": the ipc path is too long", "at most 107 bytes;",
              in_socket};
    case EPROTONOSUPPORT:
      return {"cannot listen on " + endpoint + ": unknown transport", "use tcp://, ipc:// or a "
              "port;", in_socket};
    default:
      return {"cannot listen on " + endpoint + ": " + std::strerror(error), "", in_socket};
  }
}

}  // namespace

void bind_checked(zmq::socket_t& socket, const std::string& endpoint, bool in_socket) {
  if (endpoint.starts_with(ipc_scheme)) check_ipc_path(endpoint, in_socket);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw explain(endpoint, e.num(), in_socket);
  }
}

}  // namespace bcast::broker
