// Request handling for BCAST/1 (PROTOCOL.md sections 3-7). Order of checks:
// the body must decode (else bad-request), then every request but `hello`
// and an anonymous `history` needs a session (else no-session), then the
// request's own rules. Every failure is answered to its sender only, counted
// and logged with a snippet of the bytes; nothing one peer sends reaches
// another peer unless it is a valid message.
#include "bcast/broker/core.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <type_traits>

#include "bcast/proto/clock.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"
#include "peer_text.hpp"

namespace bcast::broker {
namespace {

using proto::error_code;
using proto::mono_ms;
using proto::wall_ms;
namespace request = proto::request;
namespace event = proto::event;

// Heartbeats list rooms that saw a message within this many intervals: long
// enough that a client which missed a room's last message hears of it.
constexpr std::uint64_t hb_recent_intervals = 10;
// Bytes of a bad frame shown in the log: enough to recognise, never a flood.
constexpr std::size_t log_snippet_bytes = 32;
// Error lines logged per second; past it they are counted, not written.
constexpr std::uint64_t error_logs_per_second = 20;
// Addresses whose rates are tracked at once (see address_limits).
constexpr std::size_t max_tracked_addresses = 65536;
// Names and rooms all `who` and `rooms` answers together may list per second
// (and at once): 200 answers a second with 1000 sessions online.
constexpr double listed_entries_per_s = 200000;
// One address's share of it: however its requests are spread over sessions,
// one host leaves three quarters to the others.
constexpr double listed_entries_per_address_per_s = listed_entries_per_s / 4;
// Join and leave lines logged per second; past it they are counted.
constexpr std::uint64_t presence_logs_per_second = 20;
// Heartbeat intervals a session whose connection closed may stay silent
// before it ends: a live client reconnects at once (ZeroMQ retries within
// 100 ms) and is heard again within one interval (its ping).
constexpr std::uint64_t closed_silent_intervals = 2;
// Hellos a wrong join token costs its address: guessing runs at a tenth of
// the hello rate.
constexpr double wrong_token_cost = 10;

// How loud an answered error is in the log: what ordinary clients and
// people run into (a name in use, a typo in a room, too fast, too long) is
// information; what only a broken or hostile peer sends is a warning.
spdlog::level::level_enum log_level_of(error_code code) {
  switch (code) {
    case error_code::bad_request:
    case error_code::version:
    case error_code::unauthorized:
      return spdlog::level::warn;
    default:
      return spdlog::level::info;
  }
}

// The request's type as PROTOCOL.md spells it, for trace lines.
template <typename Request>
std::string_view type_name(const Request&) {
  return Request::type;
}

template <typename Request>
std::optional<std::uint64_t> id_of(const Request& r) {
  if constexpr (requires { r.id; }) {
    return r.id;
  } else {
    return std::nullopt;
  }
}

// The id of the request in `body`, when it decodes far enough to have one.
std::optional<std::uint64_t> id_in(std::string_view body) {
  auto decoded = proto::decode_request(body);
  if (auto* request = std::get_if<proto::any_request>(&decoded)) {
    return std::visit([](const auto& r) { return id_of(r); }, *request);
  }
  return std::get<proto::decode_error>(decoded).id;
}

}  // namespace

core::core(const options& opts, history_store& history, std::uint64_t mono_now)
    : opts_(opts),
      history_(history),
      sessions_(opts.rate, opts.burst, opts.history_byte_rate, opts.name_grace_ms),
      rooms_({max_rooms, opts.room_idle_ms, max_retired_rooms}),
      addresses_({opts.hellos_per_address, opts.hello_burst_per_address, opts.rooms_per_address,
                  opts.room_burst_per_address, opts.history_byte_rate_per_address,
                  listed_entries_per_address_per_s},
                 max_tracked_addresses),
      error_log_(error_logs_per_second),
      listed_entries_(listed_entries_per_s, listed_entries_per_s),
      presence_log_(presence_logs_per_second) {
  sessions_.set_skeleton([this](std::string_view name) { return names_.skeleton(name); });
  const auto& restored = history.restored();
  rooms_.restore(restored.rooms, restored.sys_seq);
  for (const auto& a : restored.acks) sessions_.restore_ack(a.token, a.name, a.ack, mono_now);
}

void core::on_request(std::string_view routing_id, bool delimiter, std::string_view body,
                      std::uint64_t mono_now, outbox& out, const identity_source& identity,
                      int connection) {
  ++stats_.requests;
  const peer from{routing_id, delimiter};
  session* s = sessions_.by_route(routing_id);
  if (s != nullptr && connection >= 0 && s->connection >= 0 && s->connection != connection) {
    sessions_.unroute(*s);  // the id moved to another connection: not proof of the session
    s = nullptr;
  }
  if (s != nullptr) {
    s->last_seen_ms = mono_now;
    // Most requests are plain messages: read in place, no decoding.
    if (const auto plain = proto::read_plain_msg(body)) {
      if (spdlog::should_log(spdlog::level::trace)) {
        spdlog::trace("msg from {} to room {} ({} bytes)", s->name, plain->room, body.size());
      }
      return handle_msg(from, *s, *plain, mono_now, out);
    }
  }

  auto decoded = proto::decode_request(body);
  if (const auto* error = std::get_if<proto::decode_error>(&decoded)) {
    fail(from, error_code::bad_request, error->reason, error->id, out, body);
    return;
  }
  std::visit(
      [&](auto& r) {
        using type = std::decay_t<decltype(r)>;
        if (spdlog::should_log(spdlog::level::trace)) {
          spdlog::trace("{} from {} ({} bytes)", type_name(r),
                        s != nullptr ? s->name : "connection " + hex(routing_id, 8), body.size());
        }
        if constexpr (std::is_same_v<type, request::hello>) {
          handle(from, s, r, mono_now, identity ? identity() : peer_identity{}, connection, out);
        } else if constexpr (std::is_same_v<type, request::history>) {
          if (s == nullptr || s->limiter.allow(mono_now)) {
            handle_history(from, s, s != nullptr ? s->address : (identity ? identity().address : ""),
                           r, mono_now, out);
          } else {
            fail(from, error_code::rate_limited, "too many requests", r.id, out);
          }
        } else if (s == nullptr) {
          fail(from, error_code::no_session, "no session for this connection: send hello",
               id_of(r), out);
        } else {
          handle(from, *s, r, mono_now, out);
        }
      },
      std::get<proto::any_request>(decoded));
}

void core::on_bad_envelope(std::string_view routing_id, std::size_t frames, outbox& out) {
  ++stats_.requests;
  fail({routing_id, false}, error_code::bad_request,
       "expected one body frame (after an optional empty delimiter), got " +
           std::to_string(frames) + " frames",
       std::nullopt, out);
}

void core::refuse(std::string_view routing_id, bool delimiter, std::string_view body,
                  outbox& out) {
  fail({routing_id, delimiter}, error_code::shutting_down,
       "the broker is shutting down; the request was not carried out", id_in(body), out);
}

void core::on_oversize(std::string_view routing_id, bool delimiter, std::string_view body,
                       outbox& out) {
  ++stats_.requests;
  ++stats_.errors[static_cast<std::size_t>(error_code::too_large)];
  send({routing_id, delimiter},
       event::error{std::string(proto::to_string(error_code::too_large)),
                    "the request is " + std::to_string(body.size()) +
                        " bytes; this broker takes at most " + std::to_string(opts_.max_frame) +
                        " per request and " + std::to_string(opts_.max_text) + " of text",
                    proto::peek_request_id(body)},
       out);
}

void core::handle(const peer& from, session* current, request::hello& r, std::uint64_t now,
                  const peer_identity& identity, int connection, outbox& out) {
  const std::string& address = identity.address;
  spdlog::debug("hello from {} as '{}' (connection {}{})", address.empty() ? "a local socket" : address,
                r.name, hex(from.routing_id, 8), r.session ? ", resuming a session" : "");
  // First, so that neither opening sessions nor guessing the join token
  // goes faster from one host however many connections it opens.
  if (!addresses_.allow_hello(address, now)) {
    return fail(from, error_code::rate_limited, "too many hellos from this address; try again shortly",
                std::nullopt, out);
  }
  if (r.v != proto::protocol_version) {
    return fail(from, error_code::version, "this broker speaks BCAST/1 only (v=1)", std::nullopt,
                out);
  }
  if (auto why = proto::check_name(r.name)) {
    return fail(from, error_code::invalid_name, *why, std::nullopt, out);
  }
  if (auto why = names_.check(r.name)) return fail(from, error_code::invalid_name, *why, std::nullopt, out);
  if (identity.key_revoked) {
    return fail(from, error_code::unauthorized, "this connection's key is no longer admitted",
                std::nullopt, out);
  }
  if (!identity.key_name.empty() && r.name != identity.key_name) {
    return fail(from, error_code::invalid_name,
                "this connection's key is bound to the name '" + identity.key_name + "'",
                std::nullopt, out);
  }
  if (opts_.join_token && !(r.token && secrets_equal(*r.token, *opts_.join_token))) {
    // A wrong guess costs the address many hellos.
    addresses_.charge_hello(address, now, wrong_token_cost - 1);
    return fail(from, error_code::unauthorized, "join token missing or wrong", std::nullopt, out);
  }
  for (const auto& room : r.rooms) {
    if (auto why = proto::check_room(room)) {
      return fail(from, error_code::invalid_room, *why, std::nullopt, out);
    }
  }
  // welcome.rooms is a map: each room once.
  std::sort(r.rooms.begin(), r.rooms.end());
  r.rooms.erase(std::unique(r.rooms.begin(), r.rooms.end()), r.rooms.end());
  if (current != nullptr) {
    if (current->name != r.name) {
      return fail(from, error_code::bad_request,
                  "this connection is already joined as '" + current->name + "'", std::nullopt,
                  out);
    }
    sessions_.rebind(*current, std::string(from.routing_id), from.delimiter);
    current->connection = connection;
    current->connection_closed = false;
    current->address = address;
    current->rooms = std::move(r.rooms);
    return welcome(from, *current, out);
  }
  if (r.session) {
    session* resumed = sessions_.by_name_and_token(r.name, *r.session);
    if (resumed != nullptr) {
      // The session was live on another connection: that one is told, so a
      // client whose token was taken never goes on as if nothing happened.
      if (!resumed->routing_id.empty() && resumed->routing_id != from.routing_id) {
        fail({resumed->routing_id, resumed->delimiter}, error_code::session_moved,
             "this session was resumed on another connection", std::nullopt, out);
      }
      sessions_.rebind(*resumed, std::string(from.routing_id), from.delimiter);
      resumed->connection = connection;
      resumed->connection_closed = false;
      resumed->address = address;
      resumed->last_seen_ms = now;
      resumed->rooms = std::move(r.rooms);
      if (may_log_presence()) spdlog::info("resume {} (new connection {})", r.name, hex(from.routing_id, 8));
      return welcome(from, *resumed, out);
    }
    // A session that timed out, or one from before a restart: same token,
    // same request memory, announced as a new join.
    resumed = sessions_.resume_dormant(*r.session, r.name, std::string(from.routing_id),
                                       from.delimiter, wall_ms(), now);
    if (resumed != nullptr) {
      resumed->connection = connection;
      resumed->connection_closed = false;
      resumed->address = address;
      resumed->rooms = std::move(r.rooms);
      if (may_log_presence()) spdlog::info("rejoin {} with its earlier session (connection {})", r.name,
                   hex(from.routing_id, 8));
      announce_join(*resumed, out);
      return welcome(from, *resumed, out);
    }
  }
  if (sessions_.by_name(r.name) != nullptr) {
    return fail(from, error_code::name_taken, "the name '" + r.name + "' is in use",
                std::nullopt, out);
  }
  if (const auto reserved = sessions_.reserved_ms(r.name, now)) {
    return fail(from, error_code::name_taken,
                "the name '" + r.name + "' is kept for its earlier session for another " +
                    std::to_string((reserved + 999) / 1000) +
                    " s (a client that lost its connection may resume it)",
                std::nullopt, out);
  }
  if (const auto other = sessions_.look_alike(r.name, now)) {
    return fail(from, error_code::name_taken,
                "the name '" + r.name + "' looks too much like '" + *other + "', which is in use",
                std::nullopt, out);
  }
  session& s = sessions_.open(r.name, std::string(from.routing_id), from.delimiter, wall_ms(), now);
  s.rooms = std::move(r.rooms);
  s.address = address;
  s.connection = connection;
  if (may_log_presence()) spdlog::info("join {} (connection {}{}{})", s.name, hex(from.routing_id, 8),
               address.empty() ? "" : " from ", address);
  announce_join(s, out);
  welcome(from, s, out);
}

bool core::may_log_presence() {
  std::uint64_t suppressed = 0;
  const bool log = presence_log_.allow(mono_ms(), suppressed);
  if (suppressed != 0) spdlog::info("{} more joins and leaves, not logged", suppressed);
  return log;
}

void core::announce_join(const session& s, outbox& out) {
  publish_sys(event::join{history_.epoch(), rooms_.next_sys_seq(), wall_ms(), s.name}, out);
}

void core::handle(const peer& from, session& s, request::msg& r, std::uint64_t now,
                  outbox& out) {
  handle_msg(from, s, {r.room, r.text, r.id}, now, out);
}

void core::handle_msg(const peer& from, session& s, const proto::msg_request_view& r,
                      std::uint64_t now, outbox& out) {
  if (r.id) {
    if (const auto* prior = s.acked.find(*r.id)) return send(from, *prior, out);
  }
  if (auto why = proto::check_room(r.room)) {
    return fail(from, error_code::invalid_room, *why, r.id, out);
  }
  if (auto problem = check_text(r.text)) return fail(from, problem->first, problem->second, r.id, out);
  if (!s.limiter.allow(now)) return fail(from, error_code::rate_limited, "too many messages", r.id, out);
  if (!history_.accepting()) {
    return fail(from, error_code::unavailable,
                "the broker cannot store messages now (its disk is full or failing); retry later",
                r.id, out);
  }
  auto seq = rooms_.next_seq(r.room, now, false);
  if (!seq) {  // a new room: creations are budgeted per address
    if (!addresses_.allow_new_room(s.address, now)) {
      return fail(from, error_code::rate_limited,
                  "too many new rooms from this address; try again later", r.id, out);
    }
    seq = rooms_.next_seq(r.room, now, true, s.address);
    if (!seq) return fail(from, error_code::invalid_room, "the broker's room limit is reached", r.id, out);
  }

  const std::uint64_t ts = wall_ms();
  proto::encode_msg({history_.epoch(), *seq, ts, r.room, s.name, r.text}, encoded_);
  shared_body body(encoded_);
  std::optional<message_origin> origin;
  if (r.id) origin = message_origin{s.token, s.name, *r.id};
  history_.append({r.room, *seq, ts, body, origin});
  out.publications.push_back({proto::room_topic(r.room), std::move(body)});
  ++stats_.published;
  if (r.id) {
    event::ack ack{*r.id, std::string(r.room), *seq};
    s.acked.remember(ack);
    send(from, ack, out);
  }
}

void core::handle(const peer& from, session& s, request::dm& r, std::uint64_t now,
                  outbox& out) {
  if (r.id) {
    if (const auto* prior = s.acked.find(*r.id)) return send(from, *prior, out);
  }
  if (auto problem = check_text(r.text)) return fail(from, problem->first, problem->second, r.id, out);
  session* target = sessions_.by_name(r.to);
  if (target == nullptr) {
    return fail(from, error_code::unknown_user, "no one named '" + r.to + "' is online", r.id, out);
  }
  if (!s.limiter.allow(now)) return fail(from, error_code::rate_limited, "too many messages", r.id, out);
  if (!s.dm_outbox.allow(now)) {
    return fail(from, error_code::rate_limited, "too many direct messages; try again shortly", r.id, out);
  }
  if (!target->dm_inbox.allow(now)) {
    return fail(from, error_code::rate_limited,
                "'" + r.to + "' is being sent too many direct messages; try again shortly", r.id, out);
  }
  send({target->routing_id, target->delimiter}, event::dm{s.name, std::move(r.text), wall_ms()},
       out);
  if (r.id) {
    event::ack ack{*r.id, std::nullopt, std::nullopt};
    s.acked.remember(ack);
    send(from, ack, out);
  }
}

void core::handle(const peer& from, session&, request::ping& r, std::uint64_t, outbox& out) {
  send(from, event::pong{r.id}, out);
}

bool core::listing_allowed(session& s, std::size_t entries, std::uint64_t now) {
  // Each answer lists every session (or room): all sessions together may
  // have the broker list listed_entries_per_s of them a second.
  return s.limiter.allow(now) && s.listing_budget.allow(now) &&
         addresses_.allow_listing(s.address, now, static_cast<double>(entries)) &&
         listed_entries_.allow(now, static_cast<double>(entries));
}

void core::handle(const peer& from, session& s, request::who& r, std::uint64_t now,
                  outbox& out) {
  if (!listing_allowed(s, sessions_.size(), now)) {
    return fail(from, error_code::rate_limited, "too many requests", r.id, out);
  }
  event::who answer;
  answer.id = r.id;
  for (const session* live : sessions_.all()) answer.users.push_back({live->name, live->since_ms});
  send(from, answer, out);
}

void core::handle(const peer& from, session& s, request::rooms& r, std::uint64_t now,
                  outbox& out) {
  if (!listing_allowed(s, rooms_.live(), now)) {
    return fail(from, error_code::rate_limited, "too many requests", r.id, out);
  }
  send(from, event::rooms{rooms_.listing(now), r.id}, out);
}

void core::handle(const peer&, session& s, request::bye&, std::uint64_t now, outbox& out) {
  spdlog::debug("bye from {} ({})", s.name, s.address.empty() ? "a local socket" : s.address);
  end_session(s.name, "bye", now, out);
}

void core::handle_history(const peer& from, session* s, const std::string& address,
                          request::history& r, std::uint64_t now, outbox& out) {
  if (auto why = proto::check_room(r.room)) {
    return fail(from, error_code::invalid_room, *why, r.id, out);
  }
  if (r.limit > proto::max_history_limit) {
    return fail(from, error_code::too_large,
                "history limit is at most " + std::to_string(proto::max_history_limit), r.id, out);
  }
  // Nothing is read for a reader whose budget is spent.
  const auto refuse = [&] {
    fail(from, error_code::rate_limited, "history read too fast; ask again shortly", r.id, out);
  };
  if ((s != nullptr && s->history_budget.spent(now)) || !addresses_.may_read_history(address, now)) {
    return refuse();
  }
  auto slice = history_.read(r.room, r.after, static_cast<std::size_t>(r.limit));
  cap_answer(slice.bodies, r.after.has_value());
  // What is served costs the reader's history budget its bytes, and each
  // message at least history_message_cost.
  std::size_t cost = 0;
  for (const auto& body : slice.bodies) cost += std::max(body.view().size(), history_message_cost);
  if (s != nullptr && !s->history_budget.allow(now, static_cast<double>(cost))) return refuse();
  addresses_.charge_history(address, now, static_cast<double>(cost));
  const std::uint64_t last = rooms_.last_seq(r.room);
  std::vector<std::string_view> bodies;
  bodies.reserve(slice.bodies.size());
  for (const auto& body : slice.bodies) bodies.emplace_back(body.view());
  const std::uint64_t first = slice.first != 0 ? slice.first : last + 1;
  out.replies.push_back({std::string(from.routing_id), from.delimiter,
                         proto::encode_history(r.room, bodies, first, last, history_.epoch(), r.id)});
}

void core::cap_answer(std::vector<shared_body>& bodies, bool oldest_first) {
  std::size_t bytes = 0;
  std::size_t keep = 0;
  const auto fits = [&](const shared_body& b) {
    bytes += b.view().size();
    return keep == 0 || bytes <= proto::max_history_answer_bytes;
  };
  if (oldest_first) {
    while (keep < bodies.size() && fits(bodies[keep])) ++keep;
    bodies.resize(keep);
  } else {  // the newest ones: a backlog shows the latest messages
    while (keep < bodies.size() && fits(bodies[bodies.size() - 1 - keep])) ++keep;
    bodies.erase(bodies.begin(), bodies.end() - static_cast<std::ptrdiff_t>(keep));
  }
}

std::optional<std::pair<error_code, std::string>> core::check_text(std::string_view text) const {
  if (text.empty()) return std::pair{error_code::bad_request, std::string("text is empty")};
  if (text.size() > opts_.max_text) {
    return std::pair{error_code::too_large, "text is " + std::to_string(text.size()) +
                                                " bytes; the limit is " +
                                                std::to_string(opts_.max_text)};
  }
  return std::nullopt;
}

void core::welcome(const peer& to, const session& s, outbox& out) {
  event::welcome w;
  w.name = s.name;
  w.session = s.token;
  w.epoch = history_.epoch();
  w.hb_ivl = opts_.heartbeat_ms;
  w.liveness = opts_.liveness;
  w.sys_seq = rooms_.sys_seq();
  w.max_text = opts_.max_text;
  w.ts = wall_ms();  // an hb at or past it was published after this welcome
  if (s.rooms.empty()) {
    w.rooms = rooms_.all();
  } else {
    for (const auto& room : s.rooms) w.rooms.push_back({room, rooms_.last_seq(room)});
  }
  spdlog::debug("welcome {} ({}): epoch {}, {} room(s), heartbeat {} ms", s.name,
                s.address.empty() ? "a local socket" : s.address, w.epoch, w.rooms.size(), w.hb_ivl);
  send(to, w, out);
}

void core::expire(std::uint64_t mono_now, outbox& out) {
  for (const auto& name : sessions_.silent_since(mono_now, opts_.liveness * opts_.heartbeat_ms)) {
    end_session(name, "timeout", mono_now, out);
  }
  // A client whose connection closed and that did not come back on another
  // is gone (crashed, killed): its session ends sooner, its name kept for
  // its token as after any timeout. Only the token takes a name back: the
  // broker cannot tell a crash from a cut (or a connection an attacker had
  // closed), and one address may be many people.
  const std::uint64_t closed_silence_ms =
      std::min(opts_.liveness, closed_silent_intervals) * opts_.heartbeat_ms;
  for (const auto& name : sessions_.closed_and_silent(mono_now, closed_silence_ms)) {
    end_session(name, "timeout", mono_now, out);
  }
}

void core::on_connection_closed(int connection) {
  session* s = sessions_.by_connection(connection);
  if (s == nullptr) return;
  s->connection_closed = true;
  spdlog::debug("the connection of {} closed: its name is free if it is not back on another "
                "within {} heartbeats", s->name, std::min(opts_.liveness, closed_silent_intervals));
}

void core::end_session(const std::string& name, std::string_view reason, std::uint64_t mono_now,
                       outbox& out) {
  if (may_log_presence()) spdlog::info("leave {} ({})", name, reason);
  publish_sys(event::leave{history_.epoch(), rooms_.next_sys_seq(), wall_ms(), name,
                           std::string(reason)},
              out);
  // A session that timed out may come back (a network cut): keep its token.
  sessions_.close(name, reason == "timeout", mono_now);
}

void core::revoke(const std::set<std::string>& names, std::uint64_t mono_now, outbox& out) {
  for (const auto& name : names) {
    if (sessions_.by_name(name) != nullptr) end_session(name, "revoked", mono_now, out);
  }
}

void core::heartbeat(std::uint64_t mono_now, outbox& out) {
  const std::uint64_t window = hb_recent_intervals * opts_.heartbeat_ms;
  event::hb hb;
  hb.epoch = history_.epoch();
  hb.ts = wall_ms();
  hb.sys_seq = rooms_.sys_seq();
  hb.rooms = rooms_.active_since(mono_now > window ? mono_now - window : 0);
  hb.clients = sessions_.size();
  out.publications.push_back({std::string(proto::sys_topic), shared_body(proto::encode(hb))});
}

void core::shutdown(outbox& out) {
  publish_sys(event::shutdown{history_.epoch(), rooms_.next_sys_seq(), wall_ms(), "shutdown"}, out);
}

void core::publish_sys(const proto::any_event& event, outbox& out) {
  history_.note_sys_seq(rooms_.sys_seq());
  out.publications.push_back({std::string(proto::sys_topic), shared_body(proto::encode(event))});
  ++stats_.published;
}

void core::send(const peer& to, const proto::any_event& event, outbox& out) {
  out.replies.push_back({std::string(to.routing_id), to.delimiter, proto::encode(event)});
}

void core::fail(const peer& to, error_code code, std::string_view reason,
                std::optional<std::uint64_t> id, outbox& out, std::string_view body) {
  ++stats_.errors[static_cast<std::size_t>(code)];
  send(to, event::error{std::string(proto::to_string(code)), std::string(reason), id}, out);
  // Expected while the store is full (it said so once) or while clients
  // come back after a restart: counted, not logged one by one.
  if (code == error_code::unavailable || code == error_code::no_session) return;
  const auto level = log_level_of(code);
  if (!spdlog::should_log(level)) return;
  std::uint64_t suppressed = 0;
  const bool log = error_log_.allow(mono_ms(), suppressed);
  if (suppressed != 0) spdlog::info("{} more errors answered but not logged", suppressed);
  if (!log) return;
  const session* s = sessions_.by_route(to.routing_id);
  spdlog::log(level, "{} to {}: {}{}{}", proto::to_string(code),
               s != nullptr ? s->name : "connection " + hex(to.routing_id, 8), reason,
               body.empty() ? "" : " (bytes: ", body.empty() ? "" : hex(body, log_snippet_bytes) + ")");
}

}  // namespace bcast::broker
