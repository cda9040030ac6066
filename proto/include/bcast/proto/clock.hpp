// The two clocks the broker and the clients read, in milliseconds: wall
// time for the `ts` and `epoch` fields (what people see) and monotonic time
// for liveness, heartbeats and every other timer (what never jumps). They
// live here, the one library both sides depend on (broker → proto ← client),
// so each is defined once; reading the time is the only thing in proto that
// is not pure codec, which is why nothing in proto itself calls them.
#pragma once

#include <chrono>
#include <cstdint>

namespace bcast::proto {

// Milliseconds since the Unix epoch (system_clock).
[[nodiscard]] inline std::uint64_t wall_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// Milliseconds of steady_clock, from an unspecified start: only differences mean anything.
[[nodiscard]] inline std::uint64_t mono_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

}  // namespace bcast::proto
