// Keeps a flood of bad input from becoming a flood of log lines: at most a
// fixed number of lines per second pass, and the rest are counted and
// summed up in one line when the next second begins. The errors themselves
// are still answered and counted in core_stats. An implementation detail,
// yet public: core (core.hpp, public for tests and fuzzers) holds two by
// value, so its layout needs the whole class.
#pragma once

#include <cstdint>

namespace bcast::broker {

class log_limiter {
 public:
  explicit log_limiter(std::uint64_t per_second) : per_second_(per_second) {}

  // Returns true when a line may be logged at `now_ms`. When a new second
  // begins, `suppressed` is set to how many lines the last one held back.
  [[nodiscard]] bool allow(std::uint64_t now_ms, std::uint64_t& suppressed) {
    suppressed = 0;
    if (now_ms / 1000 != second_) {
      second_ = now_ms / 1000;
      suppressed = held_back_;
      held_back_ = 0;
      logged_ = 0;
    }
    if (logged_ < per_second_) {
      ++logged_;
      return true;
    }
    ++held_back_;
    return false;
  }

 private:
  std::uint64_t per_second_;
  std::uint64_t second_ = 0;
  std::uint64_t logged_ = 0;
  std::uint64_t held_back_ = 0;
};

}  // namespace bcast::broker
