// A client's session with the broker: a SUB for what is published and a
// DEALER for requests. It says hello (or stays an anonymous listener), keeps
// the session alive with pings, retries every message until it is acked,
// repairs gaps from history, notices a silent broker and rejoins when it
// returns. Single-threaded: the owner calls wait() and reads events.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/client/events.hpp"
#include "bcast/client/options.hpp"
#include "bcast/client/room_stream.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::client {

class connection {
 public:
  // Connects both sockets (SUB first) and, unless anonymous, sends hello.
  // Throws std::invalid_argument, with a sentence naming it, when an
  // endpoint is malformed.
  connection(zmq::context_t& context, options opts);
  // Leaves at once: subscriptions queued for a PUB that never answered are
  // dropped instead of holding the exit for the linger time.
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Runs the protocol for up to `timeout`. Returns early, with the subset of
  // `fds` that became readable, as soon as an event is ready or an fd is.
  std::vector<int> wait(std::chrono::milliseconds timeout, std::span<const int> fds = {});

  // The next event, oldest first; nullopt when none is ready.
  [[nodiscard]] std::optional<client_event> next_event();

  // Queues a message to `room` (default: the first followed room) and
  // returns its id; it is sent now if possible and retried until acked.
  std::uint64_t send(std::string text, std::string room = {});
  // Queues a private message, retried like send().
  std::uint64_t send_dm(std::string to, std::string text);
  // Asks who is online; the answer arrives as a who_event. Returns false
  // when it could not be sent (no connection to the broker right now).
  bool who();
  // Says bye (the broker publishes our leave at once).
  void leave();

  // Follows `room` from now on, showing its backlog first; false if it is
  // followed already or 64 rooms are (the most a hello may name).
  bool join_room(const std::string& room);
  // Stops following `room`; false if not followed or the last one followed.
  bool leave_room(const std::string& room);
  // The rooms followed, in the order they were joined.
  [[nodiscard]] const std::vector<std::string>& rooms() const { return opts_.rooms; }
  // Asks for the newest `count` messages of `room`; they arrive as one
  // history_event, apart from the room's stream. Returns false when it could
  // not be sent (no connection to the broker right now).
  bool request_history(const std::string& room, std::size_t count);
  // Calls `f` with the session token of every new session the broker gives,
  // and the first message id no run has used (to resume it after a crash:
  // options::resume_session and first_id); again whenever ids pass it.
  void on_session(std::function<void(const std::string&, std::uint64_t)> f) { on_session_ = std::move(f); }
  // The name the broker registered (empty until the first welcome).
  [[nodiscard]] const std::string& name() const { return name_; }

  // True while a welcome holds and the broker is heard.
  [[nodiscard]] bool joined() const;
  // True once any welcome (or, for listeners, any publication) arrived.
  [[nodiscard]] bool ever_connected() const { return ever_connected_; }
  // True once the broadcast side is known to work: the SUB finished its
  // handshake or something was published to us.
  [[nodiscard]] bool broadcasts_arrive() const { return out_.up || heard_on_out_; }
  // True once anything arrived on the request side (--in): a welcome, an
  // answer or a refusal. A listener's --history needs it.
  [[nodiscard]] bool requests_answered() const { return heard_on_in_; }
  // True once status::no_broadcasts was reported.
  [[nodiscard]] bool broadcasts_missing() const { return told_no_broadcasts_; }
  // Messages sent but not acked yet.
  [[nodiscard]] std::size_t unacked() const { return pending_.size(); }
  // True when every acked message has also been shown from its room stream.
  [[nodiscard]] bool caught_up() const;
  [[nodiscard]] std::uint64_t max_text() const { return max_text_; }
  // Why the broker would refuse `text` as a message ("is not valid UTF-8",
  // "is N bytes; the broker takes at most M"), or nullopt when it is fine.
  [[nodiscard]] std::optional<std::string> why_unsendable(std::string_view text) const;
  [[nodiscard]] const std::string& default_room() const { return opts_.rooms.front(); }

 private:
  struct pending_send {
    std::string body;
    std::uint64_t sent_ms = 0;  // 0: not on the wire yet
    std::string room;           // for a msg (empty for a dm)
    std::size_t text_hash = 0;  // for a msg: recognises its publication
    bool rate_limited = false;  // refused as rate-limited at least once
  };

  [[nodiscard]] bool anonymous() const { return opts_.name.empty(); }
  // The next message id (saving the session when ids pass the saved mark).
  std::uint64_t take_id();
  void save_session();
  void drain_sub(std::uint64_t now);
  void drain_dealer(std::uint64_t now);
  void on_published(proto::any_event event, std::uint64_t now);
  // Returns false when `event` belongs to a new epoch and was kept for
  // after the rejoin it started.
  bool adopt_epoch(proto::any_event& event, std::uint64_t now);
  void dispatch_published(proto::any_event& event, std::uint64_t now);
  void on_reply(proto::any_event event, std::uint64_t now);
  void on_welcome(const proto::event::welcome& w, std::uint64_t now);
  void on_room_msg(proto::event::msg m);
  void on_history(const proto::event::history& h);
  void on_error(const proto::event::error& e, std::uint64_t now);
  // Marks pending message `id` as held back by the broker's rate limit; the
  // first of a burst raises status::rate_limited.
  void on_rate_limited(std::uint64_t id, const std::string& reason);
  // Drops `id` from pending (false when it was not there); the last message
  // held back by the rate limit raises status::sending_again.
  bool drop_pending(std::uint64_t id);
  // A message of ours is done: drop it from pending, report its ack.
  void on_acked(std::uint64_t id, const std::optional<std::string>& room,
                std::optional<std::uint64_t> seq, std::uint64_t now);
  // Our own message seen in its room stream acks the one pending send it
  // can be (an ack in flight is lost when a connection drops).
  void ack_by_publication(const proto::event::msg& m);
  void on_sys(std::uint64_t seq, client_event event);
  void run_timers(std::uint64_t now);
  void request_fills(std::uint64_t now);
  void say_hello(std::uint64_t now);
  [[nodiscard]] bool wants_write() const;
  void write_owed(std::uint64_t now);
  // Sends pending messages in id order, at most max_in_flight unacked on
  // the wire; those sent at least `retry_after_ms` ago are sent again.
  void flush_sends(std::uint64_t now, std::uint64_t retry_after_ms);
  bool transmit(const std::string& body, std::uint64_t now);
  room_stream* stream(const std::string& room);
  // A new epoch: every room reports what the old one still owed, then restarts.
  void reset_rooms();
  void deliver(const std::string& room, std::vector<delivery>& ready);
  [[nodiscard]] std::optional<std::uint64_t> epoch_of(const proto::any_event& event) const;
  [[nodiscard]] std::uint64_t silence_limit_ms() const { return liveness_ * hb_ivl_; }

  // What a socket monitor told of one side's connection to the broker.
  struct link_state {
    bool connected = false;  // a TCP/IPC connection was made at least once
    bool up = false;         // a ZMTP handshake succeeded at least once
    bool refused = false;    // refused before any connection was made
    std::uint64_t failed_ms = 0;  // last refusal or failed handshake before `up` (0: none)
  };
  // Reads the monitor of one socket. The DEALER's failed handshakes (key
  // refused, wrong server key, CURVE on one side only) are reported as an
  // `unauthorized` error, instead of a broker that never answers;
  // handshake_failure() says which.
  void drain_monitor(zmq::socket_t& monitor, link_state& link, bool is_dealer);
  [[nodiscard]] std::string handshake_failure(std::uint16_t event, std::uint32_t value) const;
  // Reports, once each, a broker not there (status::unreachable) and a
  // broadcast side that does not work (status::no_broadcasts), or, for a
  // listener, a request side that does not (status::no_requests).
  void check_links(std::uint64_t now);

  options opts_;
  zmq::socket_t sub_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;      // the DEALER's connection events
  zmq::socket_t sub_monitor_;  // the SUB's
  link_state in_;
  link_state out_;
  bool told_handshake_failed_ = false;
  bool told_unreachable_ = false;
  bool told_no_broadcasts_ = false;
  bool told_no_requests_ = false;
  std::function<void(const std::string&, std::uint64_t)> on_session_;
  std::uint64_t ids_saved_until_ = 0;  // ids below it are covered by the last save
  bool heard_on_out_ = false;       // anything was published to us
  bool heard_on_in_ = false;        // anything came back on the DEALER
  std::uint64_t welcomed_ms_ = 0;   // the first welcome

  // Session state, from the last welcome.
  std::optional<std::string> session_token_;
  std::string name_;
  std::optional<std::uint64_t> epoch_;
  std::uint64_t hb_ivl_;
  std::uint64_t liveness_;
  std::uint64_t max_text_;
  bool ever_connected_ = false;
  bool awaiting_welcome_ = true;
  bool lost_ = false;
  bool hello_on_wire_ = false;  // the last hello left (IMMEDIATE may refuse)
  bool displaced_ = false;      // our session was resumed elsewhere: no hello
  bool store_refusing_ = false;  // `unavailable` since the last ack
  std::size_t rate_limited_waiting_ = 0;  // pending messages marked rate_limited

  std::map<std::string, room_stream, std::less<>> rooms_;
  struct fill_request {
    std::uint64_t id = 0;       // the answer to expect
    std::uint64_t sent_ms = 0;  // asked again after 2 heartbeats
  };
  std::map<std::string, fill_request, std::less<>> fills_;  // per room, in flight
  std::map<std::string, std::uint64_t, std::less<>> acked_seq_;
  std::uint64_t sys_last_ = 0;
  std::deque<proto::any_event> stash_;  // publications held until welcome

  std::map<std::uint64_t, pending_send> pending_;
  // Messages are numbered 1, 2, 3… in the order they were sent (so a
  // script can tell which line an ack or error is about); the client's own
  // pings and history requests use ids from the upper half, apart from them.
  std::uint64_t next_id_ = 1;
  std::uint64_t next_internal_id_ = std::uint64_t{1} << 63;
  std::vector<std::uint64_t> asked_history_ids_;  // request_history() in flight

  std::uint64_t last_sent_ms_ = 0;
  std::uint64_t last_heard_ms_ = 0;
  std::uint64_t last_hello_ms_ = 0;
  std::deque<client_event> events_;
};

}  // namespace bcast::client
