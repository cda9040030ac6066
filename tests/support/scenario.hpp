// A fault-test scenario: senders and followers (every client follows the
// lobby; the senders too), driven by one loop that reads every process, keeps
// the broker's log drained and keeps the senders writing while `feeding`.
// The clients are json_client.hpp's; judging what they printed is audit.hpp's.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker_process.hpp"
#include "json_client.hpp"

namespace bcast::test {

// Unacked lines a test lets a sender have before it waits: senders keep
// sending while the broker is down, without an unbounded backlog.
inline constexpr std::size_t max_unacked_lines = 200;
// Lines written to a sender at a time.
inline constexpr std::size_t lines_per_batch = 5;
// How long one step of a scenario may take before the test fails: a step
// takes about a second here, up to ~10 s in a sanitizer build on a loaded
// 2-core machine.
inline constexpr std::chrono::milliseconds step_patience{30000};

class scenario {
 public:
  // A `connect --name NAME` that sends what write_lines() gives it.
  json_client& add_sender(const std::string& name, const std::string& in, const std::string& out);
  // A `listen --presence ARGS`: the auditor counts joins and leaves too.
  json_client& add_listener(const std::string& label, std::vector<std::string> args, const std::string& in,
                            const std::string& out);
  // A client that follows to the end like a listener (`args` name the subcommand).
  json_client& add_follower(const std::string& label, std::vector<std::string> args, const std::string& in,
                            const std::string& out);

  // Runs the loop until `done()` or `limit`; returns whether `done()` held.
  bool drive(const std::function<bool()>& done, std::chrono::milliseconds limit = step_patience);

  void watch_log_of(broker_process* broker) { broker_ = broker; }
  void set_feeding(bool on) { feeding_ = on; }

  [[nodiscard]] std::vector<json_client*> clients() const;
  [[nodiscard]] std::vector<json_client*> senders() const;
  [[nodiscard]] std::vector<json_client*> listeners() const;
  // Acks and lines of every sender.
  [[nodiscard]] std::size_t acked() const;
  [[nodiscard]] std::size_t written() const;

  // Waits until every client printed `joined`.
  bool all_joined();

  // Every acked message of every sender is shown by `c`, covered by one of
  // its lost reports, or in the tail of an epoch a crash abandoned.
  [[nodiscard]] bool has_everything(const json_client& c) const;
  [[nodiscard]] bool listeners_have_everything() const;

  // Ends every sender's input and waits for them to exit (each waits for its
  // acks and for its own messages to come back from the room).
  bool finish_senders(std::chrono::milliseconds limit);

 private:
  void feed();

  std::vector<std::unique_ptr<json_client>> senders_;
  std::vector<std::unique_ptr<json_client>> listeners_;
  broker_process* broker_ = nullptr;
  bool feeding_ = false;
};

}  // namespace bcast::test
