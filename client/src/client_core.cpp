// The client's protocol rules (PROTOCOL.md sections 9 and 10), fed bodies,
// link events and `now` by connection.cpp; sockets and clocks stay there.
#include "client_core.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/error_code.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/overloaded.hpp"
#include "bcast/proto/pack.hpp"

namespace bcast::client::detail {
namespace {

namespace event = proto::event;
namespace request = proto::request;
using proto::overloaded;

// Publications kept while waiting for a welcome (they are replayed after it),
// for every room and sys/ together, by count and by stash_cost(): a broker
// that never welcomes us costs bounded memory however much it publishes.
// Room messages that do not fit come back from history once welcomed;
// presence that does not fit is missed (who lists it again).
constexpr std::size_t max_stash = 100000;
constexpr std::size_t max_stash_bytes = std::size_t{64} << 20;

// What a publication kept for the welcome is counted as (footprint() for a
// message); nullopt for what dispatch_published ignores, which is not kept.
std::optional<std::size_t> stash_cost(const proto::any_event& e) {
  using cost = std::optional<std::size_t>;
  constexpr std::size_t slot = sizeof(proto::any_event) + 16;  // a deque slot
  return std::visit(overloaded{
                        [](const event::msg& m) -> cost { return footprint(m); },
                        [](const event::join& m) -> cost { return slot + m.name.size(); },
                        [](const event::leave& m) -> cost { return slot + m.name.size() + m.reason.size(); },
                        [](const event::shutdown& m) -> cost { return slot + m.reason.size(); },
                        [](const event::hb& m) -> cost {
                          std::size_t bytes = slot + m.rooms.capacity() * sizeof(event::room_seq);
                          for (const auto& r : m.rooms) bytes += 16 + r.room.size();  // with malloc's header
                          return bytes;
                        },
                        [](const auto&) -> cost { return std::nullopt; },
                    },
                    e);
}
// Before the first welcome, a broadcast side that stays silent this many
// heartbeat intervals after it is reported as not working: heartbeats are
// published every interval, so two missed ones are not a slow machine.
constexpr std::uint64_t out_silence_heartbeats = 2;
// Message ids a saved session (on_session) may use before it is saved again:
// one save per this many messages, and a run that resumes it after a crash
// starts above every id the dead run can have used.
constexpr std::uint64_t ids_saved_ahead = 1024;
// The client's own requests (pings, who, history) use ids from here up,
// apart from the user's messages, which count 1, 2, 3…
constexpr std::uint64_t first_internal_id = std::uint64_t{1} << 63;
// A message refused as rate-limited is sent again after a pause that starts
// at this and doubles with each refusal in a row, up to half a heartbeat:
// a sender held to any --rate (even with a burst of 1) sends at about that
// rate, and retries cost the broker at most 100 refusals a second.
constexpr std::uint64_t first_rate_limited_pause_ms = 10;
std::uint64_t next_rate_limited_pause(std::uint64_t last, std::uint64_t hb_ivl) {
  if (last == 0) return first_rate_limited_pause_ms;
  return std::min(2 * last, std::max<std::uint64_t>(hb_ivl / 2, first_rate_limited_pause_ms));
}
// flush_sends(): send what is not on the wire yet, retry nothing.
constexpr std::uint64_t never_retry = std::numeric_limits<std::uint64_t>::max();
// `who` and `rooms` requests awaiting an answer at once: a person asks a few;
// more wait for an answer first (a broker that never answers holds 8).
constexpr std::size_t max_listings = 8;

std::optional<std::uint64_t> epoch_of(const proto::any_event& e) {
  return std::visit(
      [](const auto& m) -> std::optional<std::uint64_t> {
        if constexpr (requires { m.epoch; }) {
          return m.epoch;
        } else {
          return std::nullopt;
        }
      },
      e);
}

}  // namespace

client_core::client_core(options opts, sender send, std::uint64_t now)
    : opts_(std::move(opts)), send_(std::move(send)), max_text_(proto::default_max_text) {
  if (opts_.rooms.empty()) opts_.rooms.emplace_back(proto::default_room);
  std::vector<std::string> unique_rooms;  // each once, first one first
  for (auto& room : opts_.rooms) {
    if (std::find(unique_rooms.begin(), unique_rooms.end(), room) == unique_rooms.end()) {
      unique_rooms.push_back(std::move(room));
    }
  }
  opts_.rooms = std::move(unique_rooms);
  if (!opts_.all_rooms) {
    for (const auto& room : opts_.rooms) rooms_.try_emplace(room);
  }
  session_token_ = opts_.resume_session;
  next_id_ = opts_.first_id;
  next_internal_id_ = first_internal_id;
  last_heard_ms_ = now;
}

void client_core::start(std::uint64_t now) {
  last_heard_ms_ = now;
  if (!anonymous()) {
    say_hello(now);
  } else if (opts_.backlog > 0) {
    // A listener has no welcome: its backlog is asked for as soon as the
    // DEALER is connected.
    for (auto& [name, room] : rooms_) room.expect_backlog();
  }
}

bool client_core::awaiting_welcome() const { return !anonymous() && state_ != link_state::joined; }

std::uint64_t client_core::tick_ms() const {
  const std::uint64_t tick = std::max<std::uint64_t>(hb_ivl_ / 4, 10);
  // A message held back as rate-limited is retried when its pause ends.
  return rate_limited_pause_ms_ > 0 ? std::min(tick, rate_limited_pause_ms_) : tick;
}

void client_core::rejoin(link_state next, std::uint64_t now) {
  state_ = next;
  if (!anonymous()) say_hello(now);
}

// --- inputs ---------------------------------------------------------------

void client_core::on_publication(std::string_view body, std::uint64_t now) {
  auto decoded = proto::decode_event(body);
  auto* e = std::get_if<proto::any_event>(&decoded);
  if (e == nullptr) {
    ++undecodable_;
    return;
  }
  // A pack or a batch is its messages, published one after another.
  if (auto* pack = std::get_if<event::pack>(e)) {
    for (auto& m : proto::messages_of(*pack)) on_published(std::move(m), now);
  } else if (auto* batch = std::get_if<event::batch>(e)) {
    for (auto& m : batch->msgs) on_published(std::move(m), now);
  } else {
    on_published(std::move(*e), now);
  }
}

void client_core::on_reply(std::string_view body, std::uint64_t now) {
  last_heard_ms_ = now;
  heard_on_in_ = true;
  auto decoded = proto::decode_event(body);
  if (auto* e = std::get_if<proto::any_event>(&decoded)) {
    dispatch_reply(std::move(*e), now);
  } else {
    ++undecodable_;
  }
}

void client_core::on_link(socket_side side, link_event what, std::uint64_t now) {
  side_state& link = side == socket_side::in ? in_ : out_;
  const bool handshake_failed = what == link_event::handshake_failed_auth ||
                                what == link_event::handshake_failed_mechanism ||
                                what == link_event::handshake_failed;
  if (what == link_event::connected) link.connected = true;
  if (what == link_event::handshake_succeeded) link.up = true;
  // Retried before any connection was made: nothing listens there.
  const bool refused = what == link_event::connect_retried && !link.connected;
  if (refused) link.refused = true;
  if ((refused || handshake_failed) && !link.up) link.failed_ms = now;
  // The DEALER's failed handshakes (key refused, wrong server key, CURVE on
  // one side only) are said as `unauthorized`, not as a silent broker.
  if (handshake_failed && side == socket_side::in && !told_handshake_failed_) {
    told_handshake_failed_ = true;
    events_.push_back(error_event{"unauthorized", handshake_failure(what), std::nullopt});
  }
}

std::string client_core::handshake_failure(link_event what) const {
  if (what == link_event::handshake_failed_auth) {
    return "the broker refused this client's CURVE key (it is not in the broker's --allow directory)";
  }
  if (what == link_event::handshake_failed_mechanism) {
    return opts_.server_key
               ? "the broker does not use CURVE: leave out --server-key and --key"
               : "the broker requires CURVE: pass --server-key with its public key file (NAME.key)";
  }
  return opts_.server_key ? "the CURVE handshake failed: is --server-key the broker's public key?"
                          : "the handshake with the broker failed";
}

void client_core::on_tick(std::uint64_t now) {
  const bool watching = ever_connected_ && state_ != link_state::lost && state_ != link_state::displaced;
  if (watching && now >= last_heard_ms_ + silence_limit_ms()) {
    state_ = link_state::lost;
    events_.push_back(status_event{status::connection_lost, "no heartbeat from the broker"});
  }
  if (deferred_ && now >= deferred_->deadline_ms) apply_deferred(now);  // a clock that stepped back
  check_links(now);
  if (anonymous()) {
    request_fills(now);
    return;
  }
  if (awaiting_welcome()) {
    if (now >= last_hello_ms_ + hb_ivl_) say_hello(now);
    return;
  }
  if (now >= last_sent_ms_ + hb_ivl_) transmit(proto::encode(request::ping{next_internal_id_++}), now);
  flush_sends(now, 2 * hb_ivl_);
  request_fills(now);
  retry_listings(now);
}

void client_core::on_writable(std::uint64_t now) {
  if (awaiting_welcome()) {
    say_hello(now);
  } else {
    flush_sends(now, never_retry);
  }
}

// --- the user's requests --------------------------------------------------

std::uint64_t client_core::take_id() {
  const std::uint64_t id = next_id_++;
  if (next_id_ > ids_saved_until_) save_session();
  return id;
}

void client_core::save_session() {
  if (!session_token_ || !on_session_) return;
  ids_saved_until_ = next_id_ + ids_saved_ahead;
  on_session_(*session_token_, ids_saved_until_);
}

std::uint64_t client_core::send(std::string text, std::string room, std::uint64_t now) {
  const std::uint64_t id = take_id();
  if (room.empty()) room = opts_.rooms.front();
  auto& p = pending_[id];
  p.room = room;
  p.text = text;
  p.body = proto::encode(request::msg{std::move(text), std::move(room), id});
  if (joined()) flush_sends(now, never_retry);
  return id;
}

std::uint64_t client_core::send_dm(std::string to, std::string text, std::uint64_t now) {
  const std::uint64_t id = take_id();
  pending_[id].body = proto::encode(request::dm{std::move(to), std::move(text), id});
  if (joined()) flush_sends(now, never_retry);
  return id;
}

bool client_core::who(std::uint64_t now) {
  const std::uint64_t id = next_internal_id_++;
  return ask_listing(id, proto::encode(request::who{id}), now);
}

bool client_core::list_rooms(std::uint64_t now) {
  const std::uint64_t id = next_internal_id_++;
  return ask_listing(id, proto::encode(request::rooms{id}), now);
}

bool client_core::ask_listing(std::uint64_t id, std::string body, std::uint64_t now) {
  if (listings_.size() >= max_listings || !transmit(body, now)) return false;
  listings_[id] = {std::move(body), 0};
  return true;
}

void client_core::retry_listings(std::uint64_t now) {
  for (auto& [id, l] : listings_) {
    if (l.retry_ms != 0 && now >= l.retry_ms && transmit(l.body, now)) l.retry_ms = 0;
  }
}

void client_core::answered_listing(std::optional<std::uint64_t> id) {
  if (id) {
    listings_.erase(*id);
  } else if (!listings_.empty()) {
    listings_.erase(listings_.begin());
  }
}

void client_core::leave(std::uint64_t now) {
  if (!anonymous() && !awaiting_welcome()) transmit(proto::encode(request::bye{}), now);
}

bool client_core::can_join_room(const std::string& room) const {
  return rooms_.count(room) == 0 && opts_.rooms.size() < proto::max_hello_rooms;
}

bool client_core::join_room(const std::string& room, std::uint64_t now) {
  if (!can_join_room(room)) return false;
  opts_.rooms.push_back(room);
  // A backlog answer (even of 0 messages) tells where the room stands.
  rooms_[room].expect_backlog();
  request_fills(now);
  return true;
}

bool client_core::leave_room(const std::string& room) {
  if (rooms_.count(room) == 0 || opts_.rooms.size() <= 1) return false;
  opts_.rooms.erase(std::find(opts_.rooms.begin(), opts_.rooms.end(), room));
  rooms_.erase(room);
  fills_.erase(room);
  fill_not_before_.erase(room);
  acked_seq_.erase(room);
  return true;
}

bool client_core::request_history(const std::string& room, std::size_t count, std::uint64_t now) {
  const std::uint64_t id = next_internal_id_++;
  const request::history ask{room, std::nullopt, std::min(count, proto::max_history_limit), id};
  if (!transmit(proto::encode(ask), now)) return false;
  asked_history_ids_.push_back(id);
  return true;
}

// --- outputs --------------------------------------------------------------

std::optional<client_event> client_core::next_event() {
  if (events_.empty()) return std::nullopt;
  client_event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool client_core::wants_write() const {
  if (state_ == link_state::displaced) return false;
  if (awaiting_welcome()) return !hello_on_wire_;
  if (anonymous()) return false;
  // An unsent message within the window and before any the rate limit holds back.
  std::size_t in_flight = 0;
  for (const auto& [id, p] : pending_) {
    if (in_flight++ == max_in_flight || p.rate_limited) return false;
    if (p.sent_ms == 0) return true;
  }
  return false;
}

bool client_core::caught_up() const {
  // A backlog asked for (--history) is shown before anything else is.
  const bool backlog_owed = std::any_of(rooms_.begin(), rooms_.end(), [](const auto& room) {
    return room.second.awaiting_backlog();
  });
  return !backlog_owed && std::all_of(acked_seq_.begin(), acked_seq_.end(), [this](const auto& room_seq) {
    const auto found = rooms_.find(room_seq.first);
    return found == rooms_.end() || found->second.last() >= room_seq.second;
  });
}

void client_core::check_links(std::uint64_t now) {
  if (!told_unreachable_ && !ever_connected_) {
    // A failed handshake is a broker that is there: the DEALER says why.
    const bool no_broker = anonymous() ? out_.refused && !out_.up : in_.refused && !in_.up;
    if (no_broker) {
      told_unreachable_ = true;
      const std::string& endpoint = anonymous() ? opts_.out_endpoint : opts_.in_endpoint;
      events_.push_back(status_event{
          status::unreachable, "no broker at " + endpoint +
                                   " (connection refused): start one with `broadcast-server start`"});
    }
  }
  if (anonymous() && !told_no_requests_ && out_.up && in_.refused && !in_.up) {
    told_no_requests_ = true;
    events_.push_back(status_event{
        status::no_requests, "receiving from the broker on " + opts_.out_endpoint +
                                 " (--out) but nothing answers on " + opts_.in_endpoint +
                                 " (--in): is --in right? History and the repair of gaps need it"});
  }
  if (told_no_broadcasts_ || anonymous() || welcomed_ms_ == 0 || broadcasts_arrive()) return;
  // Refused since the welcome; or connected to something that publishes
  // nothing. Refusals from before the welcome only mean the SUB is waiting
  // to retry (up to its longest reconnect interval): its next attempt decides.
  const bool refused = out_.failed_ms >= welcomed_ms_;
  const bool silent = out_.failed_ms == 0 && now >= welcomed_ms_ + out_silence_heartbeats * hb_ivl_;
  if (refused || silent) {
    told_no_broadcasts_ = true;
    events_.push_back(status_event{
        status::no_broadcasts, "connected to the broker on " + opts_.in_endpoint +
                                   " (--in) but nothing arrives on " + opts_.out_endpoint +
                                   " (--out): is --out right?"});
  }
}

// --- publications ---------------------------------------------------------

void client_core::on_published(proto::any_event e, std::uint64_t now) {
  last_heard_ms_ = now;
  heard_on_out_ = true;
  if (state_ == link_state::lost && anonymous()) {
    state_ = link_state::joined;
    events_.push_back(status_event{status::reconnected, {}});
  }
  if (awaiting_welcome()) {
    stash(std::move(e));
    if (now >= last_hello_ms_ + hb_ivl_ / 2) say_hello(now);
    return;
  }
  if (!adopt_epoch(e, now)) return;
  if (!ever_connected_) {
    // A listener's first publication proves its subscription is live.
    ever_connected_ = true;
    state_ = link_state::joined;
    events_.push_back(status_event{status::joined, "listening"});
  }
  dispatch_published(e, now);
}

void client_core::stash(proto::any_event e) {
  const auto bytes = stash_cost(e);
  if (!bytes || stash_.size() >= max_stash || stash_bytes_ + *bytes > max_stash_bytes) return;
  stash_bytes_ += *bytes;
  stash_.push_back(std::move(e));
}

bool client_core::adopt_epoch(proto::any_event& e, std::uint64_t now) {
  const auto epoch = epoch_of(e);
  if (!epoch) return true;
  if (!epoch_) epoch_ = epoch;
  if (*epoch == *epoch_) return true;
  if (!anonymous()) {
    // A broker that restarted with a new epoch: rejoin to learn where it is.
    stash(std::move(e));
    rejoin(link_state::rejoining, now);
    return false;
  }
  epoch_ = epoch;
  reset_rooms(now);
  sys_last_ = 0;
  events_.push_back(status_event{status::epoch_reset, "the broker started a new epoch"});
  return true;
}

void client_core::dispatch_published(proto::any_event& e, std::uint64_t now) {
  std::visit(
      overloaded{
          [&](event::msg& m) { on_room_msg(std::move(m), now); },
          [&](event::join& m) { on_sys(m.seq, presence_event{true, m.name, {}, m.ts}); },
          [&](event::leave& m) {
            // Our own leave, published after our last welcome: the broker
            // ended this session (a timeout we did not see while stalled).
            const bool ours = m.name == name_ && m.reason != "bye" && m.seq > welcome_sys_seq_ && m.seq > sys_last_;
            on_sys(m.seq, presence_event{false, m.name, m.reason, m.ts});
            if (ours && !anonymous() && state_ == link_state::joined) rejoin(link_state::rejoining, now);
          },
          [&](event::shutdown& m) {
            on_sys(m.seq, status_event{status::server_shutdown, m.reason});
            state_ = link_state::lost;  // hello again until the broker is back
          },
          [&](event::hb& m) { on_hb(m, now); },
          // A pack or batch was split into its messages before; the rest are
          // never published (a broker that did is ignored).
          [](event::pack&) {},
          [](event::batch&) {},
          [](event::welcome&) {},
          [](event::ack&) {},
          [](event::error&) {},
          [](event::pong&) {},
          [](event::who&) {},
          [](event::rooms&) {},
          [](event::history&) {},
          [](event::dm&) {},
      },
      e);
}

void client_core::on_hb(const event::hb& hb, std::uint64_t now) {
  announce(hb.rooms);
  sys_last_ = std::max(sys_last_, hb.sys_seq);
  // Published after the resume's welcome: the SUB has read all before it.
  if (deferred_ && hb.ts >= deferred_->welcome_ts) apply_deferred(now);
  request_fills(now);
}

void client_core::announce(const std::vector<event::room_seq>& rooms) {
  for (const auto& r : rooms) {
    if (room_stream* s = stream(r.room)) s->on_announced(r.seq);
  }
}

void client_core::apply_deferred(std::uint64_t now) {
  announce(deferred_->rooms);
  deferred_.reset();
  request_fills(now);
}

void client_core::on_sys(std::uint64_t seq, client_event e) {
  if (seq <= sys_last_) return;
  sys_last_ = seq;
  events_.push_back(std::move(e));
}

room_stream* client_core::stream(const std::string& room) {
  const auto found = rooms_.find(room);
  if (found != rooms_.end()) return &found->second;
  if (!opts_.all_rooms) return nullptr;
  return &rooms_[room];
}

void client_core::on_room_msg(event::msg m, std::uint64_t now) {
  room_stream* s = stream(m.room);
  if (s == nullptr) return;
  const std::string room = m.room;
  std::vector<delivery> ready;
  s->on_live(std::move(m), ready);
  deliver(room, ready, now);
  request_fills(now);
}

void client_core::reset_rooms(std::uint64_t now) {
  for (auto& [name, room] : rooms_) {
    // Our own acked messages existed too, even if no one announced them.
    const auto acked = acked_seq_.find(name);
    room.on_announced(acked == acked_seq_.end() ? 0 : acked->second);
    std::vector<delivery> owed;
    room.reset(owed);
    deliver(name, owed, now);
  }
  fill_not_before_.clear();  // a pause for the old epoch's seqs says nothing of the new
}

void client_core::deliver(const std::string& room, std::vector<delivery>& ready, std::uint64_t now) {
  for (auto& d : ready) {
    std::visit(overloaded{
                   [&](event::msg& m) {
                     if (!anonymous() && m.from == name_) ack_by_publication(m, now);
                     events_.push_back(std::move(m));
                   },
                   [&](lost_run& lost) { events_.push_back(lost_event{room, lost.first_seq, lost.count}); },
               },
               d);
  }
}

// --- replies --------------------------------------------------------------

void client_core::dispatch_reply(proto::any_event e, std::uint64_t now) {
  std::visit(
      overloaded{
          [&](event::welcome& m) { on_welcome(m, now); },
          [&](event::ack& m) { on_acked(m.id, m.room, m.seq, now); },
          [&](event::error& m) { on_error(m, now); },
          [&](event::who& m) {
            answered_listing(m.id);
            events_.push_back(who_event{std::move(m.users)});
          },
          [&](event::rooms& m) {
            answered_listing(m.id);
            events_.push_back(rooms_event{std::move(m.list)});
          },
          [&](event::history& m) { on_history(m, now); },
          [&](event::dm& m) {
            // A private message from ourselves is our own /msg to ourselves:
            // its ack reports it already, so it is shown once.
            if (m.from != name_) events_.push_back(std::move(m));
          },
          [](event::pong&) {},  // liveness only, counted on arrival
          // Publications never come as replies; a broker that sent one is ignored.
          [](event::msg&) {},
          [](event::pack&) {},
          [](event::batch&) {},
          [](event::join&) {},
          [](event::leave&) {},
          [](event::hb&) {},
          [](event::shutdown&) {},
      },
      e);
}

void client_core::on_welcome(const event::welcome& w, std::uint64_t now) {
  if (!awaiting_welcome() || state_ == link_state::displaced) return;  // an answer to a retried hello
  const bool first = welcomed_ms_ == 0;
  const bool was_lost = state_ == link_state::lost;
  const bool new_epoch = epoch_ && *epoch_ != w.epoch;
  if (session_token_ != w.session) {
    session_token_ = w.session;
    save_session();
  }
  name_ = w.name;
  epoch_ = w.epoch;
  // Within the ranges a broker may announce (PROTOCOL 9), so that no
  // welcome can make liveness × hb_ivl wrap or the timers spin.
  hb_ivl_ = std::clamp(w.hb_ivl, proto::min_hb_ivl_ms, proto::max_hb_ivl_ms);
  liveness_ = std::clamp(w.liveness, std::uint64_t{1}, proto::max_liveness);
  max_text_ = w.max_text;
  // Seqs of an old epoch mean nothing in the new one.
  if (new_epoch) {
    reset_rooms(now);
    acked_seq_.clear();
  }
  deferred_.reset();
  if (first || new_epoch) {
    for (auto& [name, room] : rooms_) {
      const auto announced = std::find_if(w.rooms.begin(), w.rooms.end(),
                                          [&](const auto& r) { return r.room == name; });
      const std::uint64_t seq = announced == w.rooms.end() ? 0 : announced->seq;
      if (first && opts_.backlog > 0) {
        room.expect_backlog();
      } else if (first) {
        room.start_at(seq);
      } else {
        room.on_announced(seq);
      }
    }
    sys_last_ = w.sys_seq;
  } else {
    // A resume: what the broker published before this welcome may still
    // wait on the SUB (a client that stalled has a queue there). Its
    // announcements wait until the SUB has caught up (PROTOCOL 10.1 step 5).
    deferred_ = deferred_announcement{w.rooms, w.ts, now + silence_limit_ms()};
  }
  welcome_sys_seq_ = w.sys_seq;
  ever_connected_ = true;
  state_ = link_state::joined;
  welcome_internal_id_ = next_internal_id_;
  last_heard_ms_ = now;
  if (first) welcomed_ms_ = now;
  if (first) events_.push_back(status_event{status::joined, w.name});
  if (new_epoch) events_.push_back(status_event{status::epoch_reset, "the broker started a new epoch"});
  if (!first && (was_lost || new_epoch)) events_.push_back(status_event{status::reconnected, {}});
  std::deque<proto::any_event> held;
  held.swap(stash_);
  stash_bytes_ = 0;
  for (auto& e : held) {
    const auto epoch = epoch_of(e);
    if (!epoch || *epoch == *epoch_) on_published(std::move(e), now);
  }
  flush_sends(now, 0);  // everything in flight again: the broker de-duplicates
  // A who or rooms asked before may have been lost with the old connection.
  for (auto& [id, l] : listings_) l.retry_ms = now;
  retry_listings(now);
  request_fills(now);
}

void client_core::on_acked(std::uint64_t id, const std::optional<std::string>& room,
                           std::optional<std::uint64_t> seq, std::uint64_t now) {
  if (!drop_pending(id)) return;  // a duplicate ack
  rate_limited_pause_ms_ = 0;     // taken: the bucket has room again
  flush_sends(now, never_retry);  // the window moved
  end_burst_if_done();
  if (store_refusing_) {
    store_refusing_ = false;
    events_.push_back(status_event{status::store_accepting, "messages are accepted again"});
  }
  if (room && seq) {
    auto& acked = acked_seq_[*room];
    acked = std::max(acked, *seq);
  }
  events_.push_back(ack_event{id, room, seq});
}

void client_core::on_rate_limited(std::uint64_t id, const std::string& reason, std::uint64_t now) {
  const auto found = pending_.find(id);
  if (found == pending_.end()) return;
  found->second.rate_limited = true;
  rate_limited_pause_ms_ = next_rate_limited_pause(rate_limited_pause_ms_, hb_ivl_);
  found->second.retry_ms = now + rate_limited_pause_ms_;
  burst_until_id_ = std::max(burst_until_id_, id);
  // Said when the first message of a burst is held back, not for each one
  // or each retry: the burst ends when the last of them is acknowledged.
  if (!rate_limited_burst_) {
    rate_limited_burst_ = true;
    events_.push_back(status_event{status::rate_limited, reason});
  }
}

void client_core::end_burst_if_done() {
  if (!rate_limited_burst_) return;
  if (!pending_.empty() && pending_.begin()->first <= burst_until_id_) return;
  rate_limited_burst_ = false;
  events_.push_back(status_event{status::sending_again, "every message held back was taken"});
}

bool client_core::drop_pending(std::uint64_t id) { return pending_.erase(id) != 0; }

void client_core::ack_by_publication(const event::msg& m, std::uint64_t now) {
  // Names are unique among sessions, and the broker carries out a session's
  // messages in order, publishing each once: a publication under our name
  // is one of our messages on the wire. Only a single candidate (same room,
  // same text) is certain; with several, the broker's ack decides. One at
  // or below a seq already acked to us is that message, or an earlier one:
  // never a later pending one (refused for now, say) with the same text.
  const auto acked = acked_seq_.find(m.room);
  if (acked != acked_seq_.end() && m.seq <= acked->second) return;
  std::optional<std::uint64_t> match;
  std::size_t in_flight = 0;
  for (const auto& [id, p] : pending_) {
    if (p.sent_ms == 0 || in_flight++ == max_in_flight) break;
    if (p.room != m.room || p.text != m.text || p.room.empty()) continue;
    if (match) return;
    match = id;
  }
  if (match) on_acked(*match, m.room, m.seq, now);
}

void client_core::on_history(const event::history& h, std::uint64_t now) {
  const auto asked = h.id ? std::find(asked_history_ids_.begin(), asked_history_ids_.end(), *h.id)
                          : asked_history_ids_.end();
  if (asked != asked_history_ids_.end()) {
    asked_history_ids_.erase(asked);
    events_.push_back(history_event{h.room, h.msgs});
    return;
  }
  // Only the answer to the request in flight counts: a late answer to a
  // timed-out or abandoned one (a room left and joined again) is dropped.
  const auto fill = fills_.find(h.room);
  if (fill == fills_.end() || h.id != fill->second.id) return;
  fills_.erase(fill);
  room_stream* s = stream(h.room);
  if (s == nullptr) return;
  if (h.epoch != epoch_) {  // from before a reset: ask again
    s->fill_timed_out();
    request_fills(now);
    return;
  }
  std::vector<delivery> ready;
  const bool gap_fill = !s->awaiting_backlog();
  const std::uint64_t last = s->last();
  s->on_history(h, ready);
  if (gap_fill && s->last() == last) fill_not_before_[h.room] = now + hb_ivl_;
  deliver(h.room, ready, now);
  request_fills(now);
}

void client_core::on_error(const event::error& e, std::uint64_t now) {
  const auto code = proto::error_code_from_string(e.code);
  using proto::error_code;
  // Our session was resumed elsewhere (its token is known to another
  // client): never take it back, or the two would take turns.
  if (code == error_code::session_moved) {
    state_ = link_state::displaced;
    session_token_.reset();
    events_.push_back(error_event{e.code, e.reason, e.id});
    return;
  }
  const auto listing = e.id ? listings_.find(*e.id) : listings_.end();
  const bool our_listing = listing != listings_.end();
  // The broker lost our session (restart, timeout): join again, keep sends.
  // A `no-session` for a request of ours from before the last welcome is
  // stale: that session is back already.
  if (code == error_code::no_session) {
    if (our_listing) listing->second.retry_ms = now;  // asked again once joined
    const bool stale = e.id && *e.id >= first_internal_id && *e.id < welcome_internal_id_;
    if (!stale && !anonymous() && state_ == link_state::joined) rejoin(link_state::rejoining, now);
    return;
  }
  // Not carried out, but not refused either: a hello is repeated anyway, and
  // a message stays pending and is retried after a rejoin or a pause.
  if (code == error_code::unavailable && !store_refusing_) {
    store_refusing_ = true;  // said once, not for every retry
    events_.push_back(status_event{status::store_refusing, e.reason});
  }
  const bool retryable = code == error_code::shutting_down || code == error_code::rate_limited ||
                         code == error_code::unavailable;
  if (our_listing) {
    if (retryable) {
      listing->second.retry_ms = now + hb_ivl_;  // refused for now, not for good
      return;
    }
    listings_.erase(listing);
    events_.push_back(error_event{e.code, e.reason, e.id});
    return;
  }
  if (code == error_code::rate_limited && e.id) on_rate_limited(*e.id, e.reason, now);
  if (retryable && (!e.id || pending_.count(*e.id) != 0)) return;
  if (e.id) {
    // An id we do not hold pending is one of our own pings or history fills
    // (which are repeated on their own timers) or an answer to a retry.
    if (!drop_pending(*e.id)) return;
    flush_sends(now, never_retry);  // the window moved
    end_burst_if_done();
  }
  events_.push_back(error_event{e.code, e.reason, e.id});
}

// --- sending --------------------------------------------------------------

void client_core::say_hello(std::uint64_t now) {
  if (state_ == link_state::displaced) return;
  request::hello h;
  h.name = opts_.name;
  h.session = session_token_;
  h.token = opts_.token;
  if (!opts_.all_rooms) h.rooms = opts_.rooms;
  hello_on_wire_ = transmit(proto::encode(h), now);
  last_hello_ms_ = now;
}

void client_core::request_fills(std::uint64_t now) {
  if (awaiting_welcome()) return;
  for (auto& [name, room] : rooms_) {
    const auto fill = fills_.find(name);
    if (fill != fills_.end() && now >= fill->second.sent_ms + 2 * hb_ivl_) {
      room.fill_timed_out();
      fills_.erase(fill);
    }
    const auto paused = fill_not_before_.find(name);
    if (paused != fill_not_before_.end()) {
      if (now < paused->second) continue;
      fill_not_before_.erase(paused);
    }
    std::optional<request::history> ask;
    if (room.take_backlog_request()) {
      ask = request::history{name, std::nullopt, opts_.backlog, next_internal_id_++};
    } else if (const auto after = room.take_fill_request()) {
      ask = request::history{name, *after, proto::max_history_limit, next_internal_id_++};
    }
    if (ask && transmit(proto::encode(*ask), now)) {
      fills_[name] = {*ask->id, now};  // if lost, it times out and is asked again
    } else if (ask) {
      room.fill_timed_out();  // no connection yet: asked again at the next timer
    }
  }
}

void client_core::flush_sends(std::uint64_t now, std::uint64_t retry_after_ms) {
  std::size_t in_flight = 0;
  for (auto& [id, p] : pending_) {
    if (in_flight++ == max_in_flight) return;
    // A message the rate limit refused goes again alone, after a pause: the
    // ones after it wait behind it (on the wire already, or held here), so
    // the room sees a sender's messages in the order they were sent.
    const bool due = p.rate_limited ? now >= p.retry_ms
                                    : p.sent_ms == 0 || now - p.sent_ms >= retry_after_ms;
    if (due) {
      if (!transmit(p.body, now)) return;
      p.sent_ms = now;
      if (p.rate_limited) p.retry_ms = now + 2 * hb_ivl_;  // its answer may be lost too
      if (rate_limited_burst_) burst_until_id_ = std::max(burst_until_id_, id);
    }
    if (p.rate_limited) return;
  }
}

bool client_core::transmit(const std::string& body, std::uint64_t now) {
  if (!send_(body)) return false;
  last_sent_ms_ = now;
  return true;
}

}  // namespace bcast::client::detail
