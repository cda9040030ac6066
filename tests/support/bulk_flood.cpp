// Flooding room "bulk" and watching it.
#include "bulk_flood.hpp"

#include <gtest/gtest.h>
#include <zmq_addon.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <thread>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/pack.hpp"
#include "deadline.hpp"
#include "report.hpp"

namespace bcast::test {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

std::string flood_text(int sender, std::size_t k) {
  char head[32];
  std::snprintf(head, sizeof head, "p%d-%06zu-", sender, k);
  std::string text(head);
  text.resize(flood_text_bytes, 'x');
  return text;
}

namespace {

// Joins as `name` following an idle room and sends the flood to "bulk" as
// fast as the client's send window allows; returns when all are acked.
void flood(zmq::context_t& context, const std::string& in, const std::string& out, int index, flood_sender& result) {
  client::options opts;
  opts.in_endpoint = in;
  opts.out_endpoint = out;
  opts.name = "p" + std::to_string(index);
  opts.rooms = {"quiet"};  // so the senders do not read the flood themselves
  client::connection conn(context, opts);
  const auto end = clock_type::now() + std::chrono::seconds(90);  // generous: a sanitizer build on a loaded machine takes ~20 s
  while (!conn.joined() && clock_type::now() < end) {
    conn.wait(milliseconds(20));
    while (conn.next_event()) {
    }
  }
  if (!conn.joined()) {
    result.error = opts.name + " did not join";
    return;
  }
  for (std::size_t k = 1; k <= flood_messages; ++k) conn.send(flood_text(index, k), "bulk");
  while ((conn.unacked() > 0 || result.seq_of_id.size() < flood_messages) && clock_type::now() < end) {
    conn.wait(milliseconds(20));
    while (auto e = conn.next_event()) {
      if (const auto* ack = std::get_if<client::ack_event>(&*e)) result.seq_of_id[ack->id] = ack->seq.value_or(0);
      if (const auto* error = std::get_if<client::error_event>(&*e)) result.error = error->code + ": " + error->reason;
    }
  }
  if (result.seq_of_id.size() < flood_messages) result.error += " only " + std::to_string(result.seq_of_id.size()) + " acked";
  conn.leave();
}

}  // namespace

flood_outcome run_flood(zmq::context_t& context, broker_process& broker) {
  flood_outcome f;
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  const auto flood_start = clock_type::now();
  for (int i = 0; i < flood_senders; ++i) {
    threads.emplace_back([&, i] {
      flood(context, broker.in(), broker.out(), i + 1, f.senders[static_cast<std::size_t>(i)]);
      ++done;
    });
  }
  f.finished = eventually(
      [&] {
        f.peak_rss_kib = std::max(f.peak_rss_kib, memory_of(broker.pid()).rss);
        (void)broker.log();
        return done == flood_senders;
      },
      std::chrono::seconds(100), milliseconds(10));
  for (auto& t : threads) t.join();
  f.ms = ms_since(flood_start);
  return f;
}

std::map<std::uint64_t, std::string> acked_texts(const flood_outcome& f) {
  std::map<std::uint64_t, std::string> acked_text{{1, "warm-up"}};
  for (int i = 0; i < flood_senders; ++i) {
    const auto& r = f.senders[static_cast<std::size_t>(i)];
    EXPECT_TRUE(r.error.empty()) << "p" << i + 1 << ": " << r.error;
    for (const auto& [id, seq] : r.seq_of_id) acked_text[seq] = flood_text(i + 1, id);
  }
  return acked_text;
}

std::uint64_t bulk_view::lost() const {
  std::uint64_t n = 0;
  for (const auto& i : items) n += i.lost ? i.last - i.first + 1 : 0;
  return n;
}

bulk_view bulk_view_of(const json_client& c) {
  bulk_view v;
  const auto found = c.streams().find({0, "bulk"});
  if (found != c.streams().end()) v.items = found->second;
  for (const auto& m : c.msgs()) v.texts[m.seq] = m.text;
  return v;
}

std::uint64_t last_in_bulk(const json_client& c) {
  const auto found = c.streams().find({0, "bulk"});
  return found == c.streams().end() || found->second.empty() ? 0 : found->second.back().last;
}

namespace {

client::options library_options(const broker_process& broker) {
  client::options opts;
  opts.in_endpoint = broker.in();
  opts.out_endpoint = broker.out();
  opts.rooms = {"bulk"};
  return opts;
}

}  // namespace

library_listener::library_listener(zmq::context_t& context, const broker_process& broker)
    : conn_(context, library_options(broker)) {}

void library_listener::poll() {
  conn_.wait(milliseconds(2));
  while (auto e = conn_.next_event()) {
    if (auto* m = std::get_if<client::message_event>(&*e)) {
      view_.items.push_back({m->seq, m->seq, false});
      view_.texts[m->seq] = m->text;
    } else if (auto* l = std::get_if<client::lost_event>(&*e)) {
      view_.items.push_back({l->first_seq, l->first_seq + l->count - 1, true});
    }
  }
}

zmq::socket_t stalling_raw_sub(zmq::context_t& context, const std::string& out) {
  zmq::socket_t raw(context, zmq::socket_type::sub);
  raw.set(zmq::sockopt::rcvhwm, 1);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::subscribe, "");
  raw.connect(out);
  return raw;
}

bool raw_got_bulk_message(zmq::socket_t& raw) {
  zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, milliseconds(5)) == 0) return false;
  std::vector<zmq::message_t> frames;
  (void)zmq::recv_multipart(raw, std::back_inserter(frames));
  return frames.size() == 2 && frames[0].to_string_view() == "room/bulk/";
}

bool raw_read_until_heartbeat_after(zmq::socket_t& raw, std::uint64_t after_wall_ms, std::uint64_t& received) {
  zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
  while (zmq::poll(&item, 1, milliseconds(5)) > 0) {
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(raw, std::back_inserter(frames));
    if (frames.size() != 2) continue;
    if (frames[0].to_string_view() == "room/bulk/") {
      proto::pack_view pack;
      received += proto::read_pack(frames[1].to_string_view(), pack) ? pack.entries.size() : 1;
      continue;
    }
    auto decoded = proto::decode_event(frames[1].to_string_view());
    const auto* e = std::get_if<proto::any_event>(&decoded);
    const auto* hb = e ? std::get_if<proto::event::hb>(e) : nullptr;
    if (hb != nullptr && hb->ts > after_wall_ms) return true;
  }
  return false;
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace bcast::test
