// Driving a fault-test scenario.
#include "scenario.hpp"

#include <algorithm>

namespace bcast::test {

namespace {

std::vector<json_client*> pointers(const std::vector<std::unique_ptr<json_client>>& owned) {
  std::vector<json_client*> all;
  for (const auto& c : owned) all.push_back(c.get());
  return all;
}

}  // namespace

json_client& scenario::add_sender(const std::string& name, const std::string& in, const std::string& out) {
  senders_.push_back(std::make_unique<json_client>(
      name, std::vector<std::string>{"connect", "--name", name, "--timeout", "60"}, in, out));
  return *senders_.back();
}

json_client& scenario::add_listener(const std::string& label, std::vector<std::string> args, const std::string& in,
                                    const std::string& out) {
  args.insert(args.begin(), {"listen", "--presence"});
  return add_follower(label, std::move(args), in, out);
}

json_client& scenario::add_follower(const std::string& label, std::vector<std::string> args, const std::string& in,
                                    const std::string& out) {
  listeners_.push_back(std::make_unique<json_client>(label, std::move(args), in, out));
  return *listeners_.back();
}

bool scenario::drive(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (true) {
    for (auto* c : clients()) c->pump();
    if (broker_ != nullptr) (void)broker_->log();
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    if (feeding_) feed();
  }
}

std::vector<json_client*> scenario::clients() const {
  auto all = senders();
  for (const auto& l : listeners_) all.push_back(l.get());
  return all;
}

std::vector<json_client*> scenario::senders() const { return pointers(senders_); }

std::vector<json_client*> scenario::listeners() const { return pointers(listeners_); }

std::size_t scenario::acked() const {
  std::size_t n = 0;
  for (const auto& s : senders_) n += s->acks().size();
  return n;
}

std::size_t scenario::written() const {
  std::size_t n = 0;
  for (const auto& s : senders_) n += s->written();
  return n;
}

bool scenario::all_joined() {
  return drive([this] {
    const auto all = clients();
    return std::all_of(all.begin(), all.end(), [](json_client* c) { return c->status_count("joined") > 0; });
  });
}

bool scenario::has_everything(const json_client& c) const {
  for (const auto& s : senders_) {
    for (const auto& [id, ack] : s->acks()) {
      const std::string& text = s->texts().at(id - 1);
      if (!c.has_text(text) && !c.reported_lost(ack.epoch, ack.room, ack.seq) &&
          !in_abandoned_tail(c, ack.epoch, ack.room, ack.seq)) {
        return false;
      }
    }
  }
  return true;
}

bool scenario::listeners_have_everything() const {
  return std::all_of(listeners_.begin(), listeners_.end(), [this](const auto& l) { return has_everything(*l); });
}

bool scenario::finish_senders(std::chrono::milliseconds limit) {
  set_feeding(false);
  for (auto& s : senders_) s->end_input();
  return drive(
      [this] {
        return std::all_of(senders_.begin(), senders_.end(), [](const auto& s) { return s->exit_code().has_value(); });
      },
      limit);
}

void scenario::feed() {
  for (auto& s : senders_) {
    if (!s->input_ended() && s->unacked() < max_unacked_lines) s->write_lines(lines_per_batch);
  }
}

}  // namespace bcast::test
