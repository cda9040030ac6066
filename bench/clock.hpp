// The one clock of the benchmark: CLOCK_MONOTONIC in nanoseconds, for every
// timestamp, schedule and rate, and waiting until a point of it.
#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>

namespace bench {

inline constexpr std::uint64_t ns_per_s = 1'000'000'000;

inline std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * ns_per_s + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline void sleep_until_ns(std::uint64_t t) {
  timespec ts{static_cast<time_t>(t / ns_per_s), static_cast<long>(t % ns_per_s)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

inline void sleep_ms(std::uint64_t ms) { sleep_until_ns(now_ns() + ms * 1'000'000); }

}  // namespace bench
