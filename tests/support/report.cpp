// Printing and recording measured numbers.
#include "report.hpp"

#include <gtest/gtest.h>

#include <iostream>

namespace bcast::test {

void report(const std::string& key, const std::string& value) {
  std::cout << "  [numbers] " << key << " = " << value << "\n" << std::flush;
  ::testing::Test::RecordProperty(key, value);
}

void report(const std::string& key, std::uint64_t value) { report(key, std::to_string(value)); }

std::uint64_t ms_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace bcast::test
