// Waiting without fixed sleeps: poll a condition until it holds or a
// deadline passes. Deadlines are generous (a loaded 2-core machine is slow);
// a passing test returns as soon as the condition holds.
#pragma once

#include <chrono>
#include <functional>

namespace bcast::test {

using namespace std::chrono_literals;

// The default patience of a test step. Long, because only failing tests wait
// it out.
inline constexpr std::chrono::milliseconds patience = 10s;

// Returns true as soon as `condition()` is true, false when `limit` passes.
// Checks every `step` in between.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = patience,
                std::chrono::milliseconds step = 5ms);

}  // namespace bcast::test
