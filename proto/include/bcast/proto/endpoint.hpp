// How users name the broker's two sockets: a bare port ("5555") or a full
// ZeroMQ endpoint ("tcp://10.0.0.5:7000", "ipc:///tmp/bcast-in"). Shared by
// the broker (which binds) and the clients (which connect).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bcast::proto {

// Returns `spec` itself when it already names a transport ("tcp://…",
// "ipc://…", "inproc://…"), "tcp://<host>:<spec>" when it is a port number
// (0-65535), or nullopt when it is neither.
[[nodiscard]] std::optional<std::string> resolve_endpoint(std::string_view spec,
                                                          std::string_view host);

}  // namespace bcast::proto
