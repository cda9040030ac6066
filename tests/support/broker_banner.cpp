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

}  // namespace bcast::test
