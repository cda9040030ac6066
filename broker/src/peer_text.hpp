// How the broker names a peer: a routing id as a short hex prefix, a
// connection by the address at its other end, a host (what budgets and
// fair shares count) by its IP or IPv6 /64.
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
// The host an IP address (or "ip:port", "[ip]:port") counts as: an IPv4
// address itself; an IPv6 address its /64 ("2001:db8:1:2::/64"), since one
// site or machine is routinely given a whole /64; an IPv4-mapped IPv6
// address the IPv4 address. Anything else is returned as it is.
[[nodiscard]] std::string host_of(std::string_view address);

}  // namespace bcast::broker
