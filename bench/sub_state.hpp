// What one subscriber has received, counted by the receiver thread that owns
// it: the same counting for every system (ZeroMQ, NATS, Redis). A body is
// measured or warm-up by its tail (payload.hpp); latency is now − the
// scheduled send time written into it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "clock.hpp"
#include "histogram.hpp"
#include "payload.hpp"

namespace bench {

struct sub_state {
  std::uint64_t measured = 0;
  std::uint64_t warm = 0;              // warm-up bodies, repeats included
  std::uint64_t foreign = 0;           // bodies without a benchmark tail
  std::vector<std::uint8_t> heard;     // per publisher: a warm-up arrived from it
  std::uint32_t heard_count = 0;
  histogram* latency = nullptr;        // the thread's histogram, when measuring latency

  void record(std::string_view body) {
    tail t;
    if (!read_tail(body, t)) {
      ++foreign;
    } else if (t.marker == measured_marker) {
      ++measured;
      if (latency != nullptr) {
        const std::uint64_t now = now_ns();
        latency->record(now > t.ts_ns ? now - t.ts_ns : 0);
      }
    } else {
      ++warm;
      if (t.publisher < heard.size() && heard[t.publisher] == 0) {
        heard[t.publisher] = 1;
        ++heard_count;
      }
    }
  }
};

}  // namespace bench
