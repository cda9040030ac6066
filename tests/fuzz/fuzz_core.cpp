// libFuzzer target for the broker's protocol core (broker/core.hpp) over an
// in-memory history. Owns the invariants of what the core sends while a
// sequence of fuzz-chosen inputs from four peers drives it: every reply and
// publication decodes with proto::decode_event; a `msg` is published on its
// room's topic and everything else on `sys/`; each room's seqs run 1, 2, 3…
// and the `sys` stream's likewise; joins and leaves match the live sessions
// (and session_count()); welcome, who, hb and history answers agree with
// what was published (history answers are exactly the kept range, byte for
// byte); tokens stay with their session (across resumes and, after a
// timeout, a rejoin); a retried msg/dm id gets its first ack again and is
// never carried out twice; replies go to the requester (a dm to a live
// peer) and echo the request's id as PROTOCOL.md says. Any violation
// abort()s, so libFuzzer keeps the input. Seeds: corpus/core.
//
// Input format (make_corpus.py writes the same; reads past the end give 0):
//   byte 0  options: bits 0-1 history per room {1000, 0, 1, 3}; bits 2-3
//           history bytes {256 MiB, 64, 300, 4096}; bit 4 rate 2/s burst 3;
//           bit 5 join token "tok"; bits 6-7 max_text {4096, 1, 8, 64}
//   byte 1  bits 0-1 heartbeat ms {1000, 10, 100, 250}; bits 2-3 liveness - 1;
//           bit 4 history budgets of 5 messages a second
//   then steps, each a header byte h and what the action reads:
//     bits 0-1 peer (routing id), bit 2 REQ-style delimiter,
//     bits 3-5 action: 0 raw body (length byte, 255 = u16 LE length follows;
//              then the bytes), 1-3 a request built from the next bytes
//              (see build_request), 4 the same with one byte changed (then
//              position byte, xor byte; xor 0 truncates there), 5 expire,
//              6 heartbeat, 7 next byte % 3: bad envelope (frames byte),
//              refuse (a built request), shutdown
//     bits 6-7 time passing first: 0 none, 1 a byte of ms, 2 u16 LE ms,
//              3 liveness x heartbeat + 1 ms (every silent session expires)
#include <spdlog/spdlog.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "bcast/broker/core.hpp"
#include "bcast/broker/memory_history.hpp"
#include "bcast/broker/outbox.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/error_code.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"

namespace {

using namespace bcast;
namespace request = proto::request;
namespace event = proto::event;

constexpr std::uint64_t epoch = 1700000000000;
constexpr std::array<std::string_view, 4> routes{
    std::string_view("\0\x80\0\0\x29", 5), "B0123456789abcde",
    std::string_view("\0\x80\0\0\x2a", 5), "Bzyxwvutsrqponml"};

// FUZZ_CORE_TRACE=1 in the environment prints every step and what came out
// (to read a crashing input: `FUZZ_CORE_TRACE=1 fuzz_core crash-…`).
bool trace = false;

// Its `t` (every generated message type has a static, NUL-terminated `type`).
const char* type_name(const proto::any_event& e) {
  return std::visit([](const auto& m) { return m.type.data(); }, e);
}

int peer_of(std::string_view routing_id) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (routes[i] == routing_id) return static_cast<int>(i);
  }
  return -1;
}

void print_outbox(const broker::outbox& out) {
  for (const auto& p : out.publications) {
    auto d = proto::decode_event(*p.body);
    std::fprintf(stderr, "    pub %s %s\n", p.topic.c_str(),
                 std::holds_alternative<proto::any_event>(d)
                     ? type_name(std::get<proto::any_event>(d)) : "(undecodable)");
  }
  for (const auto& r : out.replies) {
    auto d = proto::decode_event(r.body);
    const auto* e = std::get_if<proto::any_event>(&d);
    const auto* err = e != nullptr ? std::get_if<event::error>(e) : nullptr;
    std::fprintf(stderr, "    reply to peer %d: %s %s\n", peer_of(r.routing_id),
                 e != nullptr ? type_name(*e) : "(undecodable)",
                 err != nullptr ? (err->code + ": " + err->reason).c_str() : "");
  }
}

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_core: invariant violated: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

// Front-to-back reader; past the end every read gives zero or nothing.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return pos_ >= size_; }
  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{u8()} << (8 * i);
    return v;
  }
  std::string bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

const std::vector<std::string> names{"alice", "bob", "carol", "Zo\xc3\xab", "dave", "",
                                     "two words", std::string(33, 'n'), "\x01" "ctl"};
const std::vector<std::string> rooms{"lobby", "dev", "r1", "a-b_c", "", "Dev",
                                     std::string(33, 'x'), "room/x"};
const std::vector<std::string> texts{"hi", "/me waves", "h\xc3\xa9llo \xf0\x9f\x91\x8b",
                                     "12345678", "0123456789abcdef0123", std::string(100, 'y'),
                                     "", std::string(5000, 'z')};

// A byte below 0xe0 picks from `pool`; above, a string of fuzz bytes follows.
std::string pick(input& in, const std::vector<std::string>& pool) {
  const std::uint8_t b = in.u8();
  if (b < 0xe0) return pool[b % pool.size()];
  return in.bytes(in.u8());
}

std::optional<std::uint64_t> pick_id(input& in) {
  const std::uint8_t b = in.u8();
  if (b == 0) return std::nullopt;
  if (b <= 200) return b;  // small ids collide: retries and de-duplication
  if (b < 255) return std::uint64_t{b} * 1000003;
  return in.u64();
}

std::uint64_t id_of(const proto::any_request& r) {
  return std::visit(
      [](const auto& m) -> std::uint64_t {
        if constexpr (requires { m.id; }) return m.id.value_or(0);
        else return 0;
      },
      r);
}

std::optional<std::uint64_t> opt_id_of(const proto::any_request& r) {
  return std::visit(
      [](const auto& m) -> std::optional<std::uint64_t> {
        if constexpr (requires { m.id; }) return m.id;
        else return std::nullopt;
      },
      r);
}

// What the harness knows of the broker, from what it published.
class model {
 public:
  explicit model(const broker::options& opts) : opts_(opts) {}

  // Checks everything the core sent for one input. `from`/`delimiter`: the
  // requester (nullopt for timed duties); `sent`: the body it sent, if any.
  void check(const broker::outbox& out, std::optional<std::string_view> from, bool delimiter,
             std::optional<std::string_view> sent, bool refused, const broker::core& core) {
    std::optional<std::variant<proto::any_request, proto::decode_error>> asked;
    if (sent) asked = proto::decode_request(*sent);
    if (from && asked && !refused) check_retry(out, *from, *asked);
    joined_.clear();

    for (const auto& p : out.publications) publication(p);
    require(core.session_count() == sessions_.size(), "session_count() differs from joins - leaves");
    require(sessions_.size() <= routes.size(), "more sessions than peers");
    require(out.replies.size() <= 2, "more than two replies to one input");
    if (!from) require(out.replies.empty(), "a timed duty sent a reply");
    for (const auto& r : out.replies) reply(r, from, delimiter, asked, refused);
  }

  // The last seq published in `room` (0 if none).
  [[nodiscard]] std::uint64_t last_seq(const std::string& room) const {
    const auto found = last_seq_.find(room);
    return found == last_seq_.end() ? 0 : found->second;
  }
  // Session tokens seen in welcomes (the last 8).
  [[nodiscard]] const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  // What the model knows of one live session (keyed by name).
  struct session_model {
    std::string route;                           // where its welcome went
    std::string token;                           // from its welcome
    std::map<std::uint64_t, std::string> acks;   // id -> ack body, as sent
  };
  // A session that timed out keeps its token and acks: a hello with that
  // token and name rejoins it (PROTOCOL.md 7.1, broker's dormant sessions).
  struct dormant_model {
    std::string name;
    std::map<std::uint64_t, std::string> acks;
  };

  session_model* session_at(std::string_view route) {
    for (auto& [name, s] : sessions_) {
      if (s.route == route) return &s;
    }
    return nullptr;
  }

  // A msg or dm whose id this session already had acked is answered with
  // that same ack and nothing else: a retry is never carried out twice.
  void check_retry(const broker::outbox& out, std::string_view from,
                   const std::variant<proto::any_request, proto::decode_error>& asked) {
    const auto* req = std::get_if<proto::any_request>(&asked);
    if (req == nullptr || !opt_id_of(*req) ||
        !(std::holds_alternative<request::msg>(*req) || std::holds_alternative<request::dm>(*req))) {
      return;
    }
    const session_model* s = session_at(from);
    if (s == nullptr) return;
    const auto prior = s->acks.find(id_of(*req));
    if (prior == s->acks.end()) return;
    require(out.publications.empty(), "a retried id was published again");
    require(out.replies.size() == 1 && out.replies[0].body == prior->second,
            "a retried id was not answered with its first ack");
  }

  void publication(const broker::publication& p) {
    require(!p.body->empty(), "publication without a body");
    auto decoded = proto::decode_event(*p.body);
    if (const auto* e = std::get_if<proto::decode_error>(&decoded)) {
      violated("published body does not decode: " + e->reason);
    }
    const auto& ev = std::get<proto::any_event>(decoded);
    if (const auto* m = std::get_if<event::msg>(&ev)) {
      require(p.topic == proto::room_topic(m->room), "msg published off its room topic");
      require(!proto::check_room(m->room), "msg published in an invalid room");
      require(m->epoch == epoch, "msg of another epoch");
      require(sessions_.contains(m->from), "msg from no live session");
      require(!m->text.empty() && m->text.size() <= opts_.max_text, "msg text size out of limits");
      auto& last = last_seq_[m->room];
      if (m->seq != last + 1) {
        violated("room " + m->room + " seq " + std::to_string(m->seq) + " after " +
                 std::to_string(last));
      }
      last = m->seq;
      published_[{m->room, m->seq}] = *p.body;
      return;
    }
    require(p.topic == proto::sys_topic, "non-msg publication off sys/");
    if (const auto* j = std::get_if<event::join>(&ev)) {
      sys_step(j->epoch, j->seq);
      require(!proto::check_name(j->name), "join of an invalid name");
      require(sessions_.emplace(j->name, session_model{}).second, "join of a name already live");
      joined_.insert(j->name);
    } else if (const auto* l = std::get_if<event::leave>(&ev)) {
      sys_step(l->epoch, l->seq);
      require(l->reason == "bye" || l->reason == "timeout", "leave reason not bye/timeout");
      const auto gone = sessions_.find(l->name);
      require(gone != sessions_.end(), "leave of a name not live");
      if (l->reason == "timeout" && !gone->second.token.empty()) {
        dormant_[gone->second.token] = {l->name, std::move(gone->second.acks)};
      }
      sessions_.erase(gone);
    } else if (const auto* s = std::get_if<event::shutdown>(&ev)) {
      sys_step(s->epoch, s->seq);
      require(s->reason == "shutdown", "shutdown reason");
    } else if (const auto* hb = std::get_if<event::hb>(&ev)) {
      require(hb->epoch == epoch, "hb of another epoch");
      require(hb->sys_seq == sys_seq_, "hb.sys_seq is not the last sys seq");
      require(hb->clients == sessions_.size(), "hb.clients is not the live session count");
      for (std::size_t i = 0; i < hb->rooms.size(); ++i) {
        require(i == 0 || hb->rooms[i - 1].room < hb->rooms[i].room, "hb.rooms not sorted");
        require(hb->rooms[i].seq == last_seq(hb->rooms[i].room), "hb.rooms seq is not the last");
      }
    } else {
      violated("published an event that is not msg/join/leave/hb/shutdown");
    }
  }

  void sys_step(std::uint64_t ep, std::uint64_t seq) {
    require(ep == epoch, "sys event of another epoch");
    if (seq != sys_seq_ + 1) {
      violated("sys seq " + std::to_string(seq) + " after " + std::to_string(sys_seq_));
    }
    sys_seq_ = seq;
  }


  void reply(const broker::reply& r, std::optional<std::string_view> from, bool delimiter,
             const std::optional<std::variant<proto::any_request, proto::decode_error>>& asked,
             bool refused) {
    require(peer_of(r.routing_id) >= 0, "reply to a routing id no peer has");
    auto decoded = proto::decode_event(r.body);
    if (const auto* e = std::get_if<proto::decode_error>(&decoded)) {
      violated("reply does not decode: " + e->reason);
    }
    const auto& ev = std::get<proto::any_event>(decoded);
    if (const auto* dm = std::get_if<event::dm>(&ev)) {
      require(sessions_.contains(dm->from), "dm from no live session");
      require(!dm->text.empty() && dm->text.size() <= opts_.max_text, "dm text out of limits");
      return;  // goes to the recipient, framed as the recipient's hello was
    }
    if (const auto* moved = std::get_if<event::error>(&ev); moved && moved->code == "session-moved") {
      // A resume tells the connection the session leaves (PROTOCOL 7.1).
      const auto* req = asked ? std::get_if<proto::any_request>(&*asked) : nullptr;
      const auto* hello = req != nullptr ? std::get_if<request::hello>(req) : nullptr;
      require(hello != nullptr && hello->session.has_value(), "session-moved without a resume");
      const auto s = sessions_.find(hello->name);
      require(s != sessions_.end() && s->second.route == r.routing_id && r.routing_id != *from,
              "session-moved sent to other than the resumed session's old connection");
      require(!moved->id, "session-moved with an id");
      return;
    }
    require(r.routing_id == *from, "answer sent to someone other than the requester");
    require(r.delimiter == delimiter, "answer framed unlike the request");

    const proto::any_request* req = nullptr;
    std::optional<std::uint64_t> expected_error_id;
    if (asked) {
      if (const auto* a = std::get_if<proto::any_request>(&*asked)) {
        req = a;
        if (!std::holds_alternative<request::hello>(*a)) expected_error_id = opt_id_of(*a);
      } else {
        expected_error_id = std::get<proto::decode_error>(*asked).id;
      }
    }

    if (const auto* err = std::get_if<event::error>(&ev)) {
      require(proto::error_code_from_string(err->code).has_value(), "unknown error code");
      require(!err->reason.empty(), "error without a reason");
      if (refused) require(err->code == "shutting-down", "refusal is not shutting-down");
      // No body (a bad envelope): nothing to echo.
      require(err->id == expected_error_id, "error id is not the request's id");
      return;
    }
    require(!refused, "a refused request got an answer other than an error");
    require(req != nullptr, "an answer other than an error to a body that does not decode");

    if (const auto* ack = std::get_if<event::ack>(&ev)) {
      require(std::holds_alternative<request::msg>(*req) ||
                  std::holds_alternative<request::dm>(*req),
              "ack of a request that is not msg or dm");
      require(ack->id == id_of(*req) && opt_id_of(*req).has_value(), "ack id is not the request's");
      require(ack->room.has_value() == ack->seq.has_value(), "ack with room xor seq");
      if (ack->room) {
        require(published_.contains({*ack->room, *ack->seq}), "ack of a seq never published");
      }
      session_model* s = session_at(*from);
      require(s != nullptr, "ack to a peer without a session");
      if (s->acks.size() < proto::dedup_window) s->acks.emplace(ack->id, r.body);
    } else if (const auto* w = std::get_if<event::welcome>(&ev)) {
      const auto* hello = std::get_if<request::hello>(req);
      require(hello != nullptr, "welcome to a request that is not hello");
      const auto joined = sessions_.find(w->name);
      require(w->name == hello->name && joined != sessions_.end(), "welcome name");
      session_model& s = joined->second;
      if (joined_.contains(w->name)) {  // a new session, or a dormant one rejoined
        require(s.token.empty(), "welcome after a join to a session that had one");
        for (const auto& [name, other] : sessions_) {
          require(name == w->name || other.token != w->session, "two live sessions share a token");
        }
        const auto rejoined = dormant_.find(w->session);
        if (rejoined != dormant_.end()) {
          require(rejoined->second.name == w->name && hello->session == w->session,
                  "a dormant token taken by another name or without asking");
          s.acks = std::move(rejoined->second.acks);
          dormant_.erase(rejoined);
        }
        s.token = w->session;
      } else {
        require(s.token == w->session, "a session's token changed on a retried hello or resume");
      }
      if (s.route != r.routing_id) {  // joined or resumed here
        if (session_model* before = session_at(r.routing_id)) before->route.clear();
        s.route = r.routing_id;
      }
      require(w->v == 1 && w->epoch == epoch && w->hb_ivl == opts_.heartbeat_ms &&
                  w->liveness == opts_.liveness && w->max_text == opts_.max_text,
              "welcome constants");
      require(w->sys_seq == sys_seq_, "welcome.sys_seq is not the last sys seq");
      require(!w->session.empty(), "welcome without a session token");
      for (std::size_t i = 0; i < w->rooms.size(); ++i) {
        require(i == 0 || w->rooms[i - 1].room < w->rooms[i].room, "welcome.rooms not unique");
        require(w->rooms[i].seq == last_seq(w->rooms[i].room), "welcome.rooms seq is not the last");
      }
      if (tokens_.size() < 8) tokens_.push_back(w->session);
      else tokens_[welcomes_ % 8] = w->session;
      ++welcomes_;
    } else if (const auto* pong = std::get_if<event::pong>(&ev)) {
      const auto* ping = std::get_if<request::ping>(req);
      require(ping != nullptr && pong->id == ping->id, "pong not answering a ping's id");
    } else if (const auto* who = std::get_if<event::who>(&ev)) {
      const auto* asked_who = std::get_if<request::who>(req);
      require(asked_who != nullptr && who->id == asked_who->id, "who not answering a who's id");
      std::set<std::string> listed;
      for (const auto& u : who->users) listed.insert(u.name);
      bool same = listed.size() == sessions_.size() && who->users.size() == sessions_.size();
      for (const auto& name : listed) same = same && sessions_.contains(name);
      require(same, "who lists other than the live sessions");
    } else if (const auto* answer = std::get_if<event::rooms>(&ev)) {
      const auto* rooms_req = std::get_if<request::rooms>(req);
      require(rooms_req != nullptr && answer->id == rooms_req->id, "rooms not answering a rooms' id");
      for (std::size_t i = 0; i < answer->list.size(); ++i) {
        const auto& room = answer->list[i];
        require(i == 0 || answer->list[i - 1].room < room.room, "rooms.list not sorted and unique");
        require(room.last == last_seq(room.room), "rooms.list seq is not the last");
        require(room.last != 0 || !room.idle, "rooms.list: idle for a room with no message");
      }
    } else if (const auto* h = std::get_if<event::history>(&ev)) {
      const auto* hr = std::get_if<request::history>(req);
      require(hr != nullptr && h->id == hr->id && h->room == hr->room, "history answers another request");
      history(*h, *hr);
    } else {
      violated("reply of a type the broker never sends to a requester");
    }
  }

  // The answer holds exactly the kept messages the request asked for, as
  // published. Kept seqs are first..last (a ring dropping from the front).
  void history(const event::history& h, const request::history& r) {
    require(h.epoch == epoch, "history of another epoch");
    const std::uint64_t last = last_seq(h.room);
    require(h.last == last, "history.last is not the room's last seq");
    require(h.first >= 1 && h.first <= last + 1, "history.first out of range");
    const bool after_all = r.after && *r.after >= last;
    const std::uint64_t from = r.after && !after_all ? std::max(*r.after + 1, h.first) : h.first;
    const std::uint64_t available = after_all || from > last ? 0 : last - from + 1;
    const std::uint64_t asked_for = std::min<std::uint64_t>(available, r.limit);
    // At most max_history_answer_bytes of bodies, at least one: from `after`
    // the oldest that fit, for a backlog the newest.
    std::uint64_t count = 0;
    std::size_t bytes = 0;
    for (; count < asked_for; ++count) {
      const std::uint64_t seq = r.after ? from + count : last - count;
      const auto body = published_.find({h.room, seq});
      require(body != published_.end(), "history of a seq never published");
      bytes += body->second.size();
      if (count > 0 && bytes > proto::max_history_answer_bytes) break;
    }
    require(h.msgs.size() == count, "history answer has the wrong number of messages");
    const std::uint64_t start = r.after ? from : last + 1 - count;
    for (std::size_t i = 0; i < h.msgs.size(); ++i) {
      const auto& m = h.msgs[i];
      require(m.seq == start + i, "history msgs are not the asked seqs in order");
      const auto found = published_.find({h.room, m.seq});
      require(found != published_.end() && found->second == proto::encode(proto::any_event{m}),
              "history msg differs from what was published");
    }
  }

  broker::options opts_;
  std::map<std::string, std::uint64_t> last_seq_;
  std::map<std::pair<std::string, std::uint64_t>, std::string> published_;
  std::uint64_t sys_seq_ = 0;
  std::map<std::string, session_model> sessions_;  // the live sessions
  std::map<std::string, dormant_model> dormant_;   // by token
  std::set<std::string> joined_;                   // joins published by this input
  std::vector<std::string> tokens_;
  std::size_t welcomes_ = 0;
};

// A well-formed request (most fields valid, some not) from the next bytes:
// a type byte, then that type's fields. Session tokens and seqs come from
// what the broker said so far, so resumes and history edges are likely.
proto::any_request build_request(input& in, const model& known) {
  switch (in.u8() % 8) {
    case 0: {
      request::hello h;
      const std::uint8_t f = in.u8();
      if ((f & 1) != 0) h.v = 2;
      h.name = pick(in, names);
      switch ((f >> 1) & 3) {
        case 0: break;
        case 2: h.session = in.bytes(in.u8()); break;
        default: {
          const std::uint8_t i = in.u8();
          const auto& tokens = known.tokens();
          if (tokens.empty()) h.session = "00000000000000000000000000000000";
          else h.session = tokens[i % tokens.size()];
        }
      }
      if ((f & 8) != 0) h.token = (f & 16) != 0 ? std::string("tok") : in.bytes(in.u8());
      std::size_t count = f >> 5;
      if (count == 7) count = in.u8();
      for (std::size_t i = 0; i < count; ++i) h.rooms.push_back(pick(in, rooms));
      return h;
    }
    case 1: {
      request::msg m;
      m.room = pick(in, rooms);
      m.text = pick(in, texts);
      m.id = pick_id(in);
      return m;
    }
    case 2: {
      request::dm d;
      d.to = pick(in, names);
      d.text = pick(in, texts);
      d.id = pick_id(in);
      return d;
    }
    case 3: return request::ping{pick_id(in)};
    case 4: return request::who{pick_id(in)};
    case 5: {
      request::history h;
      h.room = pick(in, rooms);
      const std::uint8_t a = in.u8();  // 0 absent, small, near the room's last seq, any
      const std::uint64_t last = known.last_seq(h.room);
      if (a == 255) h.after = in.u64();
      else if (a > 200) h.after = last > a - 201U ? last - (a - 201U) : 0;
      else if (a != 0) h.after = a - 1;
      const std::uint8_t l = in.u8();
      if (l == 255) h.limit = in.u64();
      else if (l >= 251) h.limit = proto::max_history_limit + (l - 251);  // 1000..1003
      else if (l != 0) h.limit = l - 1;
      h.id = pick_id(in);
      return h;
    }
    case 6: return request::rooms{pick_id(in)};
    default: return request::bye{pick_id(in)};
  }
}


broker::options options_from(std::uint8_t o, std::uint8_t t) {
  broker::options opts;
  constexpr std::array<std::size_t, 4> max_texts{4096, 1, 8, 64};
  constexpr std::array<std::uint64_t, 4> heartbeats{1000, 10, 100, 250};
  opts.max_text = max_texts[o >> 6];
  if ((o & 16) != 0) {
    opts.rate = 2;
    opts.burst = 3;
  }
  if ((o & 32) != 0) opts.join_token = "tok";
  opts.heartbeat_ms = heartbeats[t & 3];
  opts.liveness = 1 + ((t >> 2) & 3);
  if ((t & 16) != 0) {
    opts.history_byte_rate = 5 * 256;
    opts.history_byte_rate_per_address = 5 * 256;
  }
  return opts;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  trace = std::getenv("FUZZ_CORE_TRACE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  const std::uint8_t o = in.u8();
  const broker::options opts = options_from(o, in.u8());
  constexpr std::array<std::size_t, 4> per_room{1000, 0, 1, 3};
  constexpr std::array<std::size_t, 4> budget{std::size_t{256} << 20, 64, 300, 4096};
  broker::memory_history history(per_room[o & 3], budget[(o >> 2) & 3], epoch);
  broker::core core(opts, history);
  model expect(opts);
  std::uint64_t now = 1000000;

  broker::outbox out;
  while (!in.empty()) {
    const std::uint8_t h = in.u8();
    const std::string_view route = routes[h & 3];
    const bool delimiter = (h & 4) != 0;
    switch (h >> 6) {
      case 1: now += in.u8(); break;
      case 2: now += in.u16(); break;
      case 3: now += opts.liveness * opts.heartbeat_ms + 1; break;
      default: break;
    }
    out.clear();
    std::optional<std::string_view> from = route;
    std::optional<std::string> body;
    bool refused = false;
    switch ((h >> 3) & 7) {
      case 0: {
        std::size_t n = in.u8();
        if (n == 255) n = in.u16();
        body = in.bytes(n);
        break;
      }
      case 1:
      case 2:
      case 3: body = proto::encode(build_request(in, expect)); break;
      case 4: {
        body = proto::encode(build_request(in, expect));
        const std::uint8_t at = in.u8();
        const std::uint8_t x = in.u8();
        if (x == 0) body->resize(at % (body->size() + 1));
        else (*body)[at % body->size()] = static_cast<char>((*body)[at % body->size()] ^ x);
        break;
      }
      case 5:
        core.expire(now, out);
        from.reset();
        break;
      case 6:
        core.heartbeat(now, out);
        from.reset();
        break;
      default:
        switch (in.u8() % 3) {
          case 0: {
            const std::uint8_t frames = in.u8();
            core.on_bad_envelope(route, frames, out);
            if (trace) print_outbox(out);
            expect.check(out, route, false, std::nullopt, false, core);
            continue;
          }
          case 1:
            body = proto::encode(build_request(in, expect));
            core.refuse(route, delimiter, *body, out);
            refused = true;
            break;
          default:
            core.shutdown(out);
            from.reset();
        }
    }
    if (body && !refused) core.on_request(route, delimiter, *body, now, out);
    if (trace) {
      std::fprintf(stderr, "step: header %02x peer %d at %llu ms, body %zu bytes\n", h, h & 3,
                   static_cast<unsigned long long>(now), body ? body->size() : 0);
      print_outbox(out);
    }
    expect.check(out, from, delimiter, body ? std::optional<std::string_view>(*body) : std::nullopt,
                 refused, core);
  }
  return 0;
}
