// Port-or-endpoint resolution for the CLI's --in/--out options.
#include "bcast/proto/endpoint.hpp"

#include <charconv>

namespace bcast::proto {

std::optional<std::string> resolve_endpoint(std::string_view spec, std::string_view host) {
  if (spec.find("://") != std::string_view::npos) return std::string(spec);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), port);
  if (spec.empty() || ec != std::errc{} || end != spec.data() + spec.size() || port > 65535) {
    return std::nullopt;
  }
  std::string endpoint = "tcp://";
  const bool ipv6 = host.find(':') != std::string_view::npos && host.front() != '[';
  endpoint += ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  endpoint += ":" + (port == 0 ? std::string("*") : std::to_string(port));
  return endpoint;
}

}  // namespace bcast::proto
