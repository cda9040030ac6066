// What a fault test measured: printed (so `ctest -V` shows it) and recorded
// as a test property (so the XML report keeps it). Checking the numbers is
// the test's business.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bcast::test {

void report(const std::string& key, const std::string& value);
void report(const std::string& key, std::uint64_t value);

// Milliseconds since `start`: what most reported durations are.
[[nodiscard]] std::uint64_t ms_since(std::chrono::steady_clock::time_point start);

}  // namespace bcast::test
