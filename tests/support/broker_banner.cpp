// Reading the broker's banner.
#include "broker_banner.hpp"

#include <regex>

namespace bcast::test {

std::optional<broker_endpoints> endpoints_in_banner(const std::string& line) {
  static const std::regex banner("in (\\S+) \\(ROUTER\\), out (\\S+) \\(PUB\\)");
  std::smatch match;
  if (!std::regex_search(line, match, banner)) return std::nullopt;
  return broker_endpoints{match[1], match[2]};
}

std::optional<broker_endpoints> read_banner(process& broker) {
  const auto line = broker.line();
  return line ? endpoints_in_banner(*line) : std::nullopt;
}

}  // namespace bcast::test
