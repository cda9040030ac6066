// How the broker's log names a peer: a routing id as a short hex prefix,
// a connection by the address at its other end.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bcast::broker {

// The first `max_bytes` bytes of `bytes` as hex, "…" when there were more.
[[nodiscard]] std::string hex(std::string_view bytes, std::size_t max_bytes);
// "ip:port" of the other end of socket `fd` ("[ip]:port" for IPv6), or ""
// when it has none (ipc, already closed).
[[nodiscard]] std::string peer_address(int fd);

}  // namespace bcast::broker
