// The audit of a fault-test scenario: what every client printed, counted
// against the guarantees the README and PROTOCOL.md give (per room and epoch
// every seq shown once and in order, every gap reported, no seq carrying two
// texts, every acknowledged message delivered or reported lost). It counts
// and keeps examples; which counts must be zero is each test's business,
// but the guarantees every fault keeps are checked here once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace bcast::test {

struct client_numbers {
  std::string label;
  bool listener = false;  // else a sender
  std::size_t shown = 0;
  std::uint64_t lost = 0;
  std::size_t repeated_in_epoch = 0;      // a text shown twice within one epoch
  std::size_t repeated_across_epochs = 0;  // a text shown again in a later epoch
  std::size_t out_of_order = 0;           // a seq not above the previous one of its stream
  std::size_t silent_gaps = 0;            // seqs skipped with no lost report
  std::size_t acked_seen = 0;             // acked messages it showed (a sender: its own)
  std::size_t acked_reported_lost = 0;    // acked messages it did not show but reported lost
  std::size_t acked_in_crash_tail = 0;    // acked after all it heard of an abandoned epoch
  std::size_t acked_vanished = 0;         // acked messages neither shown nor reported
  int epoch_resets = 0;
};

struct audit_result {
  std::vector<client_numbers> clients;
  std::size_t seq_conflicts = 0;         // one (epoch, room, seq) carrying two texts
  std::size_t texts_published_twice = 0;  // a sender's text at two different (epoch, seq)
  std::vector<std::string> examples;     // the first problems, for failure messages

  [[nodiscard]] std::size_t sum(std::size_t client_numbers::*field) const;
  [[nodiscard]] std::uint64_t lost_total() const;
  [[nodiscard]] std::string problems() const;
};

// Audits every client of `s` (call it once the scenario is over).
[[nodiscard]] audit_result audit(const scenario& s);

// Reports every sender's lines, acks and exit, and every client's numbers.
void report_audit(const scenario& s, const audit_result& a);

// The guarantees that hold whatever the fault: order and once per (epoch,
// room), gaps reported, no seq with two texts.
void expect_order_and_once(const audit_result& a);

}  // namespace bcast::test
