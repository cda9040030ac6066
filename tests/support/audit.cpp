// Auditing what the clients of a scenario printed.
#include "audit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "report.hpp"

namespace bcast::test {

std::size_t audit_result::sum(std::size_t client_numbers::*field) const {
  std::size_t total = 0;
  for (const auto& c : clients) total += c.*field;
  return total;
}

std::uint64_t audit_result::lost_total() const {
  std::uint64_t total = 0;
  for (const auto& c : clients) total += c.lost;
  return total;
}

std::string audit_result::problems() const {
  std::string all;
  for (const auto& e : examples) all += "\n  " + e;
  return all;
}

namespace {

class auditor {
 public:
  audit_result run(const scenario& s) {
    const auto listeners = s.listeners();
    for (auto* c : s.clients()) {
      audit_client(*c, std::find(listeners.begin(), listeners.end(), c) != listeners.end());
    }
    for (auto* sender : s.senders()) audit_acks(*sender);
    for (auto* c : s.clients()) audit_delivery(s, *c, result_.clients[index_of(*c, s)]);
    return std::move(result_);
  }

 private:
  // Keeps the first few problems of each kind.
  void problem(const std::string& kind, const std::string& text) {
    if (++problems_of_kind_[kind] <= 4) result_.examples.push_back(text);
  }

  static std::size_t index_of(const json_client& c, const scenario& s) {
    const auto all = s.clients();
    return static_cast<std::size_t>(std::find(all.begin(), all.end(), &c) - all.begin());
  }

  // Remembers that (epoch, room, seq) carried `text`; a different text there
  // is a seq used twice (or an ack that lied about its seq).
  void claim(int epoch, const std::string& room, std::uint64_t seq, const std::string& text, const std::string& who) {
    const auto [it, added] = seq_text_.try_emplace(std::make_tuple(epoch, room, seq), text);
    if (!added && it->second != text) {
      ++result_.seq_conflicts;
      problem("conflict", who + ": epoch#" + std::to_string(epoch) + " " + room + " seq " + std::to_string(seq) + " carries '" +
              text + "' but elsewhere '" + it->second + "'");
    }
    auto& places = text_places_[text];
    const auto place = std::make_tuple(epoch, room, seq);
    if (std::find(places.begin(), places.end(), place) == places.end()) {
      places.push_back(place);
      if (places.size() == 2) {
        ++result_.texts_published_twice;
        problem("twice", "'" + text + "' was published at two seqs (seen by " + who + ")");
      }
    }
  }

  void audit_client(const json_client& c, bool listener) {
    client_numbers n;
    n.label = c.label();
    n.listener = listener;
    n.shown = c.msgs().size();
    n.lost = c.lost_total();
    n.epoch_resets = c.epoch();
    for (const auto& [key, items] : c.streams()) {
      for (std::size_t i = 1; i < items.size(); ++i) {
        const auto& prev = items[i - 1];
        const auto& item = items[i];
        if (item.first <= prev.last) {
          ++n.out_of_order;
          problem("order", c.label() + ": epoch#" + std::to_string(key.first) + " " + key.second + " seq " +
                  std::to_string(item.first) + " after " + std::to_string(prev.last));
        } else if (item.first != prev.last + 1) {
          ++n.silent_gaps;
          problem("gap", c.label() + ": epoch#" + std::to_string(key.first) + " " + key.second + " seqs " +
                  std::to_string(prev.last + 1) + ".." + std::to_string(item.first - 1) +
                  " neither shown nor reported lost");
        }
      }
    }
    std::unordered_map<std::string, int> epoch_of_text;
    for (const auto& m : c.msgs()) {
      const auto [it, added] = epoch_of_text.try_emplace(m.text, m.epoch);
      if (!added) {
        if (it->second == m.epoch) {
          ++n.repeated_in_epoch;
          problem("repeat", c.label() + ": '" + m.text + "' shown twice in epoch#" + std::to_string(m.epoch));
        } else {
          ++n.repeated_across_epochs;
        }
      }
      claim(m.epoch, m.room, m.seq, m.text, c.label());
    }
    result_.clients.push_back(std::move(n));
  }

  void audit_acks(const json_client& sender) {
    for (const auto& [id, ack] : sender.acks()) {
      claim(ack.epoch, ack.room, ack.seq, sender.texts().at(id - 1), sender.label() + " (ack " + std::to_string(id) + ")");
    }
  }

  // A listener runs to the end and must account for every acked message; a
  // sender exits once its own are acked and shown, so only those count.
  void audit_delivery(const scenario& s, const json_client& c, client_numbers& n) {
    const auto senders = s.senders();
    const bool is_sender = std::find(senders.begin(), senders.end(), &c) != senders.end();
    for (auto* sender : senders) {
      if (is_sender && sender != &c) continue;
      for (const auto& [id, ack] : sender->acks()) {
        const std::string& text = sender->texts().at(id - 1);
        if (c.has_text(text)) {
          ++n.acked_seen;
        } else if (c.reported_lost(ack.epoch, ack.room, ack.seq)) {
          ++n.acked_reported_lost;
        } else if (in_abandoned_tail(c, ack.epoch, ack.room, ack.seq)) {
          ++n.acked_in_crash_tail;
        } else {
          ++n.acked_vanished;
          problem("vanished", c.label() + ": acked '" + text + "' (epoch#" + std::to_string(ack.epoch) + " seq " +
                  std::to_string(ack.seq) + ") neither shown nor reported lost");
        }
      }
    }
  }

  audit_result result_;
  std::map<std::string, std::size_t> problems_of_kind_;
  std::map<std::tuple<int, std::string, std::uint64_t>, std::string> seq_text_;
  std::unordered_map<std::string, std::vector<std::tuple<int, std::string, std::uint64_t>>> text_places_;
};

}  // namespace

audit_result audit(const scenario& s) { return auditor().run(s); }

void report_audit(const scenario& s, const audit_result& a) {
  for (auto* sender : s.senders()) {
    report(sender->label() + ".written", sender->written());
    report(sender->label() + ".acked", sender->acks().size());
    report(sender->label() + ".exit", sender->exit_code() ? std::to_string(*sender->exit_code()) : "running");
  }
  for (const auto& n : a.clients) {
    std::ostringstream line;
    line << "shown " << n.shown << ", lost " << n.lost << ", epoch resets " << n.epoch_resets << ", repeated in epoch "
         << n.repeated_in_epoch << ", repeated across epochs " << n.repeated_across_epochs << ", out of order "
         << n.out_of_order << ", silent gaps " << n.silent_gaps << "; acked: seen " << n.acked_seen
         << ", reported lost " << n.acked_reported_lost << ", lost in the crash's tail "
         << n.acked_in_crash_tail << ", vanished " << n.acked_vanished;
    report(n.label, line.str());
  }
  report("seq_conflicts", a.seq_conflicts);
  report("texts_published_twice", a.texts_published_twice);
}

void expect_order_and_once(const audit_result& a) {
  EXPECT_EQ(a.sum(&client_numbers::out_of_order), 0U) << a.problems();
  EXPECT_EQ(a.sum(&client_numbers::repeated_in_epoch), 0U) << a.problems();
  EXPECT_EQ(a.sum(&client_numbers::silent_gaps), 0U) << a.problems();
  EXPECT_EQ(a.seq_conflicts, 0U) << a.problems();
}

}  // namespace bcast::test
