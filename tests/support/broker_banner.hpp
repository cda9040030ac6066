// Where a `broadcast-server start` child says it listens: the banner it
// prints first, "... in ENDPOINT (ROUTER), out ENDPOINT (PUB)". The one
// place the end-to-end tests read it; starting the process is theirs.
#pragma once

#include <optional>
#include <string>

#include "process.hpp"

namespace bcast::test {

struct broker_endpoints {
  std::string in;
  std::string out;
};

// The endpoints a banner line names; nullopt when the line is no banner.
[[nodiscard]] std::optional<broker_endpoints> endpoints_in_banner(const std::string& line);

// Reads the broker's first stdout line (waiting up to `patience`); the
// endpoints it names, or nullopt when there is no line or it is no banner.
[[nodiscard]] std::optional<broker_endpoints> read_banner(process& broker);

}  // namespace bcast::test
