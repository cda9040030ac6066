// The client side of BCAST/1 (PROTOCOL.md sections 9 and 10) as a state
// machine with no sockets, threads or clock: publication and reply bodies,
// socket link events and the time `now` go in; request bodies go out through
// a sender, and what the user should see comes out as client_events. It owns
// joining and resuming, liveness both ways, the rejoin after `no-session`,
// a new epoch or a silent broker, acks (also by our own publication), the
// in-flight window and the backlog behind it, retries of what the broker
// refused for now, and the link status reports. `connection` is the socket
// loop around it (as broker::core is for the broker); tests drive it alone.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/client/events.hpp"
#include "bcast/client/options.hpp"
#include "bcast/client/room_stream.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::client::detail {

// Messages on the wire without an ack. Far below the broker's memory of
// request ids (proto::dedup_window), so a retry is always recognised.
inline constexpr std::size_t max_in_flight = 256;
static_assert(max_in_flight < proto::dedup_window);

// Where the link to the broker stands. A listener (no name) is only ever
// connecting, joined (hearing publications) or lost.
enum class link_state {
  connecting,  // no welcome yet (listener: no publication yet): hello repeated every hb_ivl
  joined,      // a welcome holds and the broker is heard: pings, sends, fills
  rejoining,   // the broker forgot the session (no-session) or changed epoch: hello again
  lost,        // nothing heard for liveness × hb_ivl, or the broker shut down: hello repeated
  displaced,   // our session was resumed elsewhere (session-moved): never say hello again
};

// The two sockets whose monitor reports link events.
enum class socket_side { in, out };  // in: the DEALER (requests), out: the SUB

// What a socket monitor reported about one side's connection.
enum class link_event {
  connected,                 // a TCP/IPC connection was made
  connect_retried,           // a connection attempt failed and is retried
  handshake_succeeded,       // ZMTP handshake done: the peer speaks to us
  handshake_failed_auth,     // the broker refused our CURVE key
  handshake_failed_mechanism,// CURVE on one side only
  handshake_failed,          // any other failed handshake
};

class client_core {
 public:
  // Hands one request body to the DEALER; false when it could not leave now
  // (no connection: IMMEDIATE refuses). The core then keeps it owed.
  using sender = std::function<bool(std::string_view body)>;

  // Takes the followed rooms from `opts` (each once; the default room when
  // none). Sends nothing until start().
  client_core(options opts, sender send, std::uint64_t now);
  // Once the sockets are connected: says hello unless `opts` has no name (a
  // listener, which asks for its backlog as soon as it can).
  void start(std::uint64_t now);

  // --- inputs ----------------------------------------------------------
  // One publication body (the SUB's second frame); a batch is its messages.
  void on_publication(std::string_view body, std::uint64_t now);
  // One reply body from the DEALER.
  void on_reply(std::string_view body, std::uint64_t now);
  // A socket monitor's report.
  void on_link(socket_side side, link_event what, std::uint64_t now);
  // Timers: liveness, hello and ping, retries, fills, link reports. Call at
  // least every tick_ms().
  void on_tick(std::uint64_t now);
  // The DEALER can take a send again (asked for by wants_write()).
  void on_writable(std::uint64_t now);

  // --- the user's requests (connection's public API) -------------------
  std::uint64_t send(std::string text, std::string room, std::uint64_t now);
  std::uint64_t send_dm(std::string to, std::string text, std::uint64_t now);
  bool who(std::uint64_t now);
  bool list_rooms(std::uint64_t now);
  void leave(std::uint64_t now);
  // False when `room` is followed already or 64 rooms are (the most a hello names).
  [[nodiscard]] bool can_join_room(const std::string& room) const;
  bool join_room(const std::string& room, std::uint64_t now);
  bool leave_room(const std::string& room);
  bool request_history(const std::string& room, std::size_t count, std::uint64_t now);
  void on_session(std::function<void(const std::string&, std::uint64_t)> f) { on_session_ = std::move(f); }

  // --- outputs -----------------------------------------------------------
  [[nodiscard]] std::optional<client_event> next_event();
  [[nodiscard]] bool has_events() const { return !events_.empty(); }
  // True when something is owed that only a writable DEALER can take.
  [[nodiscard]] bool wants_write() const;
  // How often on_tick() must run: a quarter heartbeat, at least 10 ms.
  [[nodiscard]] std::uint64_t tick_ms() const;

  // --- state -------------------------------------------------------------
  [[nodiscard]] link_state state() const { return state_; }
  [[nodiscard]] const options& opts() const { return opts_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool joined() const { return state_ == link_state::joined; }
  [[nodiscard]] bool ever_connected() const { return ever_connected_; }
  [[nodiscard]] bool broadcasts_arrive() const { return out_.up || heard_on_out_; }
  [[nodiscard]] bool requests_answered() const { return heard_on_in_; }
  [[nodiscard]] bool broadcasts_missing() const { return told_no_broadcasts_; }
  [[nodiscard]] std::size_t unacked() const { return pending_.size(); }
  // Publications kept until a welcome, as stash_cost() counts them (at most 64 MiB).
  [[nodiscard]] std::size_t kept_for_welcome_bytes() const { return stash_bytes_; }
  [[nodiscard]] bool caught_up() const;
  [[nodiscard]] std::uint64_t max_text() const { return max_text_; }
  [[nodiscard]] std::uint64_t hb_ivl() const { return hb_ivl_; }
  [[nodiscard]] std::optional<std::uint64_t> epoch() const { return epoch_; }
  // Bodies that did not decode (dropped; the broker never sends them).
  [[nodiscard]] std::uint64_t undecodable() const { return undecodable_; }

 private:
  struct pending_send {
    std::string body;
    std::uint64_t sent_ms = 0;  // 0: not on the wire yet
    std::string room;           // for a msg (empty for a dm)
    std::string text;           // for a msg: recognises its publication
    bool rate_limited = false;  // refused as rate-limited, not accepted since
    std::uint64_t retry_ms = 0;  // when rate_limited: not sent again before this
  };
  // What a socket monitor told of one side's connection to the broker.
  struct side_state {
    bool connected = false;       // a connection was made at least once
    bool up = false;              // a handshake succeeded at least once
    bool refused = false;         // refused before any connection was made
    std::uint64_t failed_ms = 0;  // last refusal or failed handshake before `up` (0: none)
  };
  struct fill_request {
    std::uint64_t id = 0;       // the answer to expect
    std::uint64_t sent_ms = 0;  // asked again after 2 heartbeats
  };
  // A `who` or `rooms` request awaiting its answer.
  struct listing_request {
    std::string body;            // as sent, to send again
    std::uint64_t retry_ms = 0;  // 0: on the wire, else when to ask again
  };

  [[nodiscard]] bool anonymous() const { return opts_.name.empty(); }
  [[nodiscard]] bool awaiting_welcome() const;
  [[nodiscard]] std::uint64_t silence_limit_ms() const { return liveness_ * hb_ivl_; }
  // Leaves `joined` for `next` (rejoining, lost): named clients say hello.
  void rejoin(link_state next, std::uint64_t now);
  std::uint64_t take_id();
  void save_session();
  bool transmit(const std::string& body, std::uint64_t now);

  void on_published(proto::any_event event, std::uint64_t now);
  // Keeps a publication until the welcome, unless the stash is full.
  void stash(proto::any_event event);
  // Returns false when `event` belongs to a new epoch and was kept for after
  // the rejoin it started.
  bool adopt_epoch(proto::any_event& event, std::uint64_t now);
  void dispatch_published(proto::any_event& event, std::uint64_t now);
  void dispatch_reply(proto::any_event event, std::uint64_t now);
  void on_welcome(const proto::event::welcome& w, std::uint64_t now);
  void on_room_msg(proto::event::msg m, std::uint64_t now);
  void on_hb(const proto::event::hb& hb, std::uint64_t now);
  // Raises each followed room's announced seq (an hb's or a resume's).
  void announce(const std::vector<proto::event::room_seq>& rooms);
  // A resume's announcements, applied once the SUB has caught up with its
  // welcome (PROTOCOL 10.1 step 5), or at `deadline_ms`.
  struct deferred_announcement {
    std::vector<proto::event::room_seq> rooms;
    std::uint64_t welcome_ts = 0;
    std::uint64_t deadline_ms = 0;
  };
  void apply_deferred(std::uint64_t now);
  void on_history(const proto::event::history& h, std::uint64_t now);
  void on_error(const proto::event::error& e, std::uint64_t now);
  void on_sys(std::uint64_t seq, client_event event);
  // Marks pending message `id` as held back by the broker's rate limit (it
  // is retried after a pause, and the ones after it wait); the first of a
  // burst raises status::rate_limited.
  void on_rate_limited(std::uint64_t id, const std::string& reason, std::uint64_t now);
  // Raises status::sending_again when every message of the burst is taken.
  void end_burst_if_done();
  bool drop_pending(std::uint64_t id);
  void on_acked(std::uint64_t id, const std::optional<std::string>& room,
                std::optional<std::uint64_t> seq, std::uint64_t now);
  void ack_by_publication(const proto::event::msg& m, std::uint64_t now);
  void say_hello(std::uint64_t now);
  void request_fills(std::uint64_t now);
  // Sends pending messages in id order, at most max_in_flight unacked on
  // the wire and none past one the rate limit refused; those sent at least
  // `retry_after_ms` ago are sent again.
  void flush_sends(std::uint64_t now, std::uint64_t retry_after_ms);
  // Sends `body` (a `who` or `rooms` asking for answer `id`) and holds it
  // until the answer; false when it could not be sent.
  bool ask_listing(std::uint64_t id, std::string body, std::uint64_t now);
  void retry_listings(std::uint64_t now);
  // The answer to a listing came (`id`: its echo, none: the oldest).
  void answered_listing(std::optional<std::uint64_t> id);
  void check_links(std::uint64_t now);
  [[nodiscard]] std::string handshake_failure(link_event what) const;
  room_stream* stream(const std::string& room);
  // A new epoch: every room reports what the old one still owed, then restarts.
  void reset_rooms(std::uint64_t now);
  void deliver(const std::string& room, std::vector<delivery>& ready, std::uint64_t now);

  options opts_;
  sender send_;
  link_state state_ = link_state::connecting;
  std::function<void(const std::string&, std::uint64_t)> on_session_;

  // What the sockets' monitors and traffic told.
  side_state in_;
  side_state out_;
  bool heard_on_out_ = false;  // anything was published to us
  bool heard_on_in_ = false;   // anything came back on the DEALER
  bool told_handshake_failed_ = false;
  bool told_unreachable_ = false;
  bool told_no_broadcasts_ = false;
  bool told_no_requests_ = false;
  std::uint64_t undecodable_ = 0;

  // Session state, from the last welcome.
  std::optional<std::string> session_token_;
  std::string name_;
  std::optional<std::uint64_t> epoch_;
  std::uint64_t hb_ivl_ = proto::default_hb_ivl_ms;  // the protocol's, until a welcome says
  std::uint64_t liveness_ = proto::default_liveness;
  std::uint64_t max_text_;
  bool ever_connected_ = false;
  std::uint64_t welcomed_ms_ = 0;  // the first welcome
  bool hello_on_wire_ = false;     // the last hello left (IMMEDIATE may refuse)
  bool store_refusing_ = false;    // `unavailable` since the last ack
  // Since a rate-limited refusal: messages up to burst_until_id_ were held
  // back or sent behind it; sending_again is said once they are all taken.
  bool rate_limited_burst_ = false;
  std::uint64_t burst_until_id_ = 0;
  std::uint64_t rate_limited_pause_ms_ = 0;  // the last retry pause; 0 after an ack
  std::uint64_t ids_saved_until_ = 0;     // ids below it are covered by the last save
  // Internal ids below it were used before the last welcome: a `no-session`
  // echoing one answers a request of the old session and is stale.
  std::uint64_t welcome_internal_id_ = 0;

  std::map<std::string, room_stream, std::less<>> rooms_;
  std::map<std::string, fill_request, std::less<>> fills_;  // per room, in flight
  // Per room: no fill before this time, after an answer that moved nothing
  // (PROTOCOL.md 10.2), so a seq announced but not (yet) kept is not asked
  // for again and again.
  std::map<std::string, std::uint64_t, std::less<>> fill_not_before_;
  std::map<std::string, std::uint64_t, std::less<>> acked_seq_;
  std::uint64_t sys_last_ = 0;
  std::uint64_t welcome_sys_seq_ = 0;  // the last welcome's: an own leave past it ended the session
  std::optional<deferred_announcement> deferred_;
  std::deque<proto::any_event> stash_;  // publications held until welcome
  std::size_t stash_bytes_ = 0;          // their stash_cost(), bounded (stash())

  std::map<std::uint64_t, pending_send> pending_;
  // Messages are numbered 1, 2, 3… in the order they were sent (so a
  // script can tell which line an ack or error is about); the client's own
  // pings, who and history requests use ids from the upper half.
  std::uint64_t next_id_ = 1;
  std::uint64_t next_internal_id_ = std::uint64_t{1} << 63;
  std::vector<std::uint64_t> asked_history_ids_;  // request_history() in flight
  std::map<std::uint64_t, listing_request> listings_;  // by id, at most max_listings

  std::uint64_t last_sent_ms_ = 0;
  std::uint64_t last_heard_ms_ = 0;
  std::uint64_t last_hello_ms_ = 0;
  std::deque<client_event> events_;
};

}  // namespace bcast::client::detail
