// The two clocks the broker reads: wall time for `ts` fields (what people
// see) and monotonic time for liveness and timers (what never jumps).
#pragma once

#include <chrono>
#include <cstdint>

namespace bcast::broker {

[[nodiscard]] inline std::uint64_t wall_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

[[nodiscard]] inline std::uint64_t mono_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

}  // namespace bcast::broker
